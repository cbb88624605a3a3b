/**
 * The text the synthetic demo corpus is written from: its topics, sentence templates, keywords and
 * fixed phrases. The demo's generator (demo/synthetic.ts) composes every instruction and response
 * of the corpus from these, and the trainer's tiny tokenizer takes its vocabulary from them, so the
 * two cannot drift apart. The constraints' own wording is the judge's (its checkers' `describe`);
 * the words it uses for the constraints the corpus draws are listed here for the tokenizer.
 */

export const TRAIN_TOPICS = [
  "owls",
  "rivers",
  "bridges",
  "tea",
  "glaciers",
  "chess",
  "volcanoes",
  "gardens",
  "trains",
  "bees",
  "castles",
  "comets",
];
export const HELD_OUT_TOPICS = ["lighthouses", "deserts", "violins", "forests"];

export const ADJECTIVES = ["old", "quiet", "bright", "strong", "useful", "famous", "small", "vast"];
/** Sentences about a topic: "{T}" is the topic capitalised, "{t}" as is, "{a}" and "{b}" two different adjectives. */
export const TEMPLATES = [
  "{T} are {a} and {b}.",
  "Many people like {t} because they are {a}.",
  "{T} can be {a} in the morning.",
  "Some {t} are {a} while others are {b}.",
  "People study {t} to learn new things.",
  "{T} have a long history.",
  "You can see {t} in many places.",
  "Stories about {t} are often {a}.",
];
/** Templates with a comma, left out when the instruction forbids commas. */
export const COMMA_TEMPLATES = ["In winter, {t} look {a}.", "{T} are {a}, {b} and calm."];
/** Words an instruction may require (keywords:existence). */
export const KEYWORDS = ["harbor", "lantern", "meadow", "orbit", "copper", "signal"];
/** Words an instruction may forbid (keywords:forbidden_words); each occurs in some template. */
export const FORBIDDEN_WORDS = ["people", "history", "places", "things"];
export const END_PHRASES = ["Is there anything else I can help with?", "Any other questions?"];

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The fixed phrases the generator adds to a task or a response about `topic`. */
export const PHRASES = {
  task: (topic: string) => `Write a short text about ${topic}.`,
  /** A first sentence that mentions a required keyword. */
  withKeyword: (sentence: string, keyword: string) => `${sentence.replace(/\.$/, "")} near the ${keyword}.`,
  placeholder: "Visit [place] to see them.",
  postscript: (topic: string) => `P.S. ${capitalize(topic)} are worth a visit.`,
  title: (topic: string) => `<<${capitalize(topic)} Notes>>`,
};

/**
 * The words of the instructions the judge writes for the constraints the corpus draws (its
 * checkers' `describe`, for the kwargs the generator samples). The tiny tokenizer's test holds
 * them to the generated corpus: a word the judge adds and this list lacks fails it.
 */
export const INSTRUCTION_WORDS =
  "add address all allowed angular answer as at brackets bullet by capital commas contain do double end english entire exact exactly explicitly finish follow from highlight highlighted include joy keywords least less letters lowercase markdown must no not of phrase placeholders please poem point points postscript refrain represented response section sections should square starting such than this title use words wrapped your";

/**
 * Every word the corpus spells, lower case and sorted: words of two letters or more, and "a".
 * Other single letters ("I", the letters of "P.S.") are left to byte tokens.
 */
export function syntheticCorpusWords(): string[] {
  const texts = [
    ...TRAIN_TOPICS,
    ...HELD_OUT_TOPICS,
    ...ADJECTIVES,
    ...TEMPLATES,
    ...COMMA_TEMPLATES,
    ...KEYWORDS,
    ...FORBIDDEN_WORDS,
    ...END_PHRASES,
    PHRASES.task(""),
    PHRASES.withKeyword("", ""),
    PHRASES.placeholder,
    PHRASES.postscript(""),
    PHRASES.title(""),
    INSTRUCTION_WORDS,
  ];
  const words = new Set(
    texts.flatMap(
      (text) =>
        text
          .replace(/\{[A-Za-z]\}/g, " ")
          .toLowerCase()
          .match(/[a-z]{2,}|\ba\b/g) ?? [],
    ),
  );
  return [...words].sort();
}
