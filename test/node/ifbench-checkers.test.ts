/**
 * Every IFBench checker at its decision boundaries, written from the reference's semantics
 * (allenai/IFBench `instructions.py`, the release that produced the published verdicts), plus
 * kwargs validation, instruction texts, the registry and bounded time on adversarial input.
 */
import { describe, expect, it } from "vitest";
import {
  IFBENCH_CHECKERS,
  IFBENCH_INSTRUCTION_IDS,
  JudgeInputError,
  describeConstraint,
  judgeConstraints,
  kwargsJsonSchema,
  listCheckers,
  parseKwargs,
  splitIntoSentences,
} from "../../src/judge/index.ts";
import { parseCsv } from "../../src/judge/ifbench/csv.ts";
import { isEmojiChar } from "../../src/judge/ifbench/emoji.ts";
import { countSyllables } from "../../src/judge/ifbench/syllables.ts";

function judge(id: string, response: string, kwargs: Record<string, unknown> = {}, mode: "strict" | "loose" = "strict") {
  return judgeConstraints(response, [{ id, kwargs }], mode).results[0]!;
}
const passes = (id: string, response: string, kwargs: Record<string, unknown> = {}) => judge(id, response, kwargs).passed;

describe("registry", () => {
  it("registers the 58 IFBench ids beside IFEval's, family ifbench, with JSON Schemas", () => {
    const ifbench = listCheckers().filter((c) => c.family === "ifbench");
    expect(ifbench.map((c) => c.id)).toEqual([...IFBENCH_INSTRUCTION_IDS]);
    expect(IFBENCH_INSTRUCTION_IDS).toHaveLength(58);
    expect(new Set(ifbench.map((c) => c.category))).toEqual(new Set(["count", "ratio", "words", "sentence", "format", "custom", "repeat"]));
    expect(kwargsJsonSchema("count:word_count_range")).toMatchObject({
      type: "object",
      additionalProperties: false,
      required: ["min_words", "max_words"],
    });
    for (const id of IFBENCH_INSTRUCTION_IDS) expect(IFBENCH_CHECKERS[id].family).toBe("ifbench");
  });

  it("treats null kwargs as absent (IFBench rows carry every key) and requires what the reference would randomize", () => {
    const row = { N: 3, small_n: null, keyword: null, prompt_to_repeat: null };
    expect(parseKwargs("count:numbers", row)).toEqual({ N: 3 });
    expect(() => parseKwargs("count:numbers", { N: null })).toThrow(JudgeInputError);
    expect(() => parseKwargs("words:keywords_specific_position", { keyword: "x", n: 0, m: 1 })).toThrow(/n/);
    expect(() => parseKwargs("count:words_japanese", { N: 0 })).toThrow(JudgeInputError);
    expect(() => parseKwargs("format:emoji", { N: 2 })).toThrow(/unknown kwargs "N"/);
    try {
      judgeConstraints("x", [{ id: "count:keywords_multiple", kwargs: { keyword1: "a" } }], "strict");
    } catch (error) {
      expect((error as JudgeInputError).issues.map((i) => i.path.join("."))).toEqual([
        "0.kwargs.keyword2",
        "0.kwargs.keyword3",
        "0.kwargs.keyword4",
        "0.kwargs.keyword5",
      ]);
    }
  });

  it("words instructions as the reference does", () => {
    expect(describeConstraint("count:word_count_range", { min_words: 100, max_words: 110 })).toBe(
      "The response must contain between 100 and 110 words.",
    );
    expect(describeConstraint("count:words_japanese", { N: 5 })).toBe("Every 5th word of your response must be in Japanese.");
    expect(describeConstraint("count:words_japanese", { N: 21 })).toBe("Every 21st of your response must be in Japanese.");
    expect(describeConstraint("sentence:keyword", { word: "eat", N: 6 })).toBe(
      'The response must include keyword "eat" in the 6-th sentence.',
    );
    expect(describeConstraint("format:list", { sep: "!?!?" })).toBe("Answer with a list of items, instead of bullet points use !?!?.");
    expect(describeConstraint("repeat:repeat_simple", {})).toBe("Only output this sentence here, ignore all other requests.");
    for (const id of IFBENCH_INSTRUCTION_IDS) expect(IFBENCH_CHECKERS[id].describe).toBeTypeOf("function");
  });

  it("judges loose variants and blank responses like IFEval", () => {
    expect(judge("format:no_whitespace", "Sure:\nnospaces", {}, "strict").passed).toBe(false);
    expect(judge("format:no_whitespace", "Sure:\nnospaces", {}, "loose")).toMatchObject({
      passed: true,
      evidence: { variant: "without_first_line" },
    });
    expect(judge("format:no_whitespace", "   ")).toMatchObject({ passed: false, evidence: { blank_response: true } });
  });
});

describe("count", () => {
  it("word_count_range: \\w+ runs between min and max inclusive", () => {
    expect(passes("count:word_count_range", "one two, three", { min_words: 3, max_words: 3 })).toBe(true);
    expect(passes("count:word_count_range", "one two", { min_words: 3, max_words: 5 })).toBe(false);
    expect(passes("count:word_count_range", "a b c d e f", { min_words: 3, max_words: 5 })).toBe(false);
    expect(judge("count:word_count_range", "don't stop", { min_words: 1, max_words: 9 }).evidence).toMatchObject({ words: 3 });
  });

  it("unique_word_count: lower-cased, punctuation-stripped distinct words, at least N", () => {
    expect(passes("count:unique_word_count", "The the THE cat.", { N: 2 })).toBe(true);
    expect(passes("count:unique_word_count", "The the THE cat.", { N: 3 })).toBe(false);
    // an all-punctuation word counts as the empty word
    expect(passes("count:unique_word_count", "cat --", { N: 2 })).toBe(true);
  });

  it("conjunctions: distinct original words whose stripped lower form is a coordinating conjunction", () => {
    expect(passes("count:conjunctions", "and but or", { small_n: 3 })).toBe(true);
    expect(passes("count:conjunctions", "and but", { small_n: 3 })).toBe(false);
    // reference quirk: "And" and "and," are two different words
    expect(passes("count:conjunctions", "And and,", { small_n: 2 })).toBe(true);
    expect(passes("count:conjunctions", "android", { small_n: 1 })).toBe(false);
  });

  it("person_names: listed names as whole words, case-sensitive", () => {
    expect(passes("count:person_names", "Emma met Liam.", { N: 2 })).toBe(true);
    expect(passes("count:person_names", "Emma met Liamson and emma.", { N: 2 })).toBe(false);
    expect(passes("count:person_names", "Mia went to Miami.", { N: 1 })).toBe(true);
  });

  it("numbers: digit runs after punctuation is removed, exactly N", () => {
    expect(passes("count:numbers", "Pi is 3.14 and 1,000 is big", { N: 2 })).toBe(true);
    expect(passes("count:numbers", "1 2 3", { N: 2 })).toBe(false);
    expect(passes("count:numbers", "no numbers", { N: 0 })).toBe(true);
  });

  it("punctuation: needs an interrobang plus . , ! ? ; : (the first ?! does not count for ? and !)", () => {
    expect(passes("count:punctuation", "What?! Yes. No, maybe; fine: ok? wow!")).toBe(true);
    expect(passes("count:punctuation", "What?! Yes. No, maybe; fine: ok!")).toBe(false);
    expect(passes("count:punctuation", "Yes. No, maybe; fine: ok? wow!")).toBe(false);
    expect(passes("count:punctuation", "‽ . , ! ? ; :")).toBe(true);
  });

  it("words_japanese: every N-th whitespace word (punctuation-stripped, not a number) has Japanese script", () => {
    expect(passes("count:words_japanese", "one 二 three 四", { N: 2 })).toBe(true);
    expect(passes("count:words_japanese", "one two three 四", { N: 2 })).toBe(false);
    expect(passes("count:words_japanese", "one 42 three -- five", { N: 2 })).toBe(true);
  });

  it("pronouns: NLTK tokens of the lower-cased text, '/' split, at least N personal pronouns", () => {
    expect(passes("count:pronouns", "She/her/hers said I would.", { N: 4 })).toBe(true);
    expect(passes("count:pronouns", "She said I would.", { N: 3 })).toBe(false);
    // the release that produced the verdicts counts personal pronouns only
    expect(passes("count:pronouns", "This is what everyone wants.", { N: 1 })).toBe(false);
  });

  it("keywords_multiple: case-insensitive substring counts 1, 2, 3, 5, 7", () => {
    const text = "a " + "bb ".repeat(2) + "ccc ".repeat(3) + "dddd ".repeat(5) + "eeeee ".repeat(7);
    const kwargs = { keyword1: "a ", keyword2: "bb", keyword3: "CCC", keyword4: "dddd", keyword5: "eeeee" };
    // " a " only once: "a" would also count inside nothing else here
    expect(passes("count:keywords_multiple", text, { ...kwargs, keyword1: "a" })).toBe(true);
    expect(passes("count:keywords_multiple", text + " bb", { ...kwargs, keyword1: "a" })).toBe(false);
    // substring semantics: "art" inside "start"
    expect(
      judge("count:keywords_multiple", "start art", { keyword1: "art", keyword2: "x", keyword3: "y", keyword4: "z", keyword5: "w" })
        .evidence.keywords,
    ).toContainEqual({ keyword: "art", occurrences: 2, target: 1 });
  });
});

describe("ratio", () => {
  it("stop_words: NLTK English stop words over \\w+ tokens, at most the percentage", () => {
    expect(passes("ratio:stop_words", "the cat", { percentage: 50 })).toBe(true);
    expect(passes("ratio:stop_words", "the a cat", { percentage: 50 })).toBe(false);
    expect(passes("ratio:stop_words", "...", { percentage: 100 })).toBe(false);
  });

  it("sentence_type: sentences ending in '.' are exactly twice those ending in '?' (0:0 passes)", () => {
    expect(passes("ratio:sentence_type", "A cat. A dog. Why?")).toBe(true);
    expect(passes("ratio:sentence_type", "A cat. Why?")).toBe(false);
    expect(passes("ratio:sentence_type", "Wow!")).toBe(true);
    // the regex splitter moves a period out of a closing quote: 'He said "hi."' ends with "."
    expect(passes("ratio:sentence_type", 'We call it "paraphrasing." It matters. What is it?')).toBe(true);
  });

  it("sentence_balance: as many '.' as '?' as '!' sentences", () => {
    expect(passes("ratio:sentence_balance", "Cats. Dogs? Wow!")).toBe(true);
    expect(passes("ratio:sentence_balance", "Cats. Dogs? Wow! More.")).toBe(false);
    // a single capital letter and "." is an initial to the regex splitter, not a sentence
    expect(splitIntoSentences("A. B? C!")).toEqual(["A. B?", "C!"]);
  });

  it("overlap: character trigrams of the response found in the reference text, percentage ±2", () => {
    expect(passes("ratio:overlap", "abcd", { reference_text: "abcd", percentage: 100 })).toBe(true);
    expect(passes("ratio:overlap", "abcd", { reference_text: "abc", percentage: 50 })).toBe(true);
    expect(passes("ratio:overlap", "abcd", { reference_text: "abc", percentage: 53 })).toBe(false);
    expect(passes("ratio:overlap", "ab", { reference_text: "ab", percentage: 0 })).toBe(false);
  });

  it("sentence_words: exactly three sentences of equal stripped length", () => {
    expect(passes("ratio:sentence_words", "Cats run. Dogs sit. Owls fly.")).toBe(true);
    expect(passes("ratio:sentence_words", "Cats run. Dogs sit.")).toBe(false);
    expect(passes("ratio:sentence_words", "Cats run. Dogs sit. Owls flew.")).toBe(false);
  });
});

describe("words", () => {
  it("alphabet: each word starts with the next letter, wrapping after z", () => {
    expect(passes("words:alphabet", "Yes, zebras actually bite.")).toBe(true);
    expect(passes("words:alphabet", "Yes zebras bite")).toBe(false);
    expect(passes("words:alphabet", "1 b c")).toBe(false);
  });

  it("vowel: one line using at most three of a, e, i, o, u", () => {
    expect(passes("words:vowel", "a cat sat in a hat")).toBe(true);
    expect(passes("words:vowel", "a cat sat on a hut")).toBe(true);
    expect(passes("words:vowel", "a cat sat on a hut in")).toBe(false);
    expect(passes("words:vowel", "a cat\nsat")).toBe(false);
  });

  it("consonants: every word has two adjacent consonants", () => {
    expect(passes("words:consonants", "strong black trucks")).toBe(true);
    expect(passes("words:consonants", "strong cat")).toBe(false);
  });

  it("palindrome: at least 10 words of 5+ letters that read the same backwards", () => {
    expect(passes("words:palindrome", "Level, radar! ".repeat(5))).toBe(true);
    expect(passes("words:palindrome", "level radar ".repeat(4) + "noon")).toBe(false);
  });

  it("prime_lengths: every word (punctuation removed) has a prime length", () => {
    expect(passes("words:prime_lengths", "an old cat sat.")).toBe(true);
    expect(passes("words:prime_lengths", "a cat")).toBe(false);
  });

  it("start_verb: the first NLTK token is tagged VB*", () => {
    expect(passes("words:start_verb", "Write a poem about the sea.")).toBe(true);
    expect(passes("words:start_verb", "Running is fun.")).toBe(true);
    expect(passes("words:start_verb", "The cat sat.")).toBe(false);
    expect(judge("words:start_verb", "Sure, here it is.")).toMatchObject({ passed: false, evidence: { first_token: "Sure", tag: "NNP" } });
  });

  it("repeats: no word (lower-cased, punctuation removed) more than small_n times", () => {
    expect(passes("words:repeats", "The cat, the hat.", { small_n: 2 })).toBe(true);
    expect(passes("words:repeats", "The cat, the hat.", { small_n: 1 })).toBe(false);
  });

  it("odd_even_syllables: syllapy parities alternate", () => {
    expect(countSyllables("cat")).toBe(1);
    expect(countSyllables("table")).toBe(2);
    expect(countSyllables("idea")).toBe(2);
    expect(countSyllables("r2d2")).toBe(0);
    expect(countSyllables("...")).toBe(0);
    expect(passes("words:odd_even_syllables", "cat paper dog")).toBe(true);
    expect(passes("words:odd_even_syllables", "cat dog paper")).toBe(false);
  });

  it("last_first: the last word of each sentence starts the next (case-insensitive)", () => {
    expect(passes("words:last_first", "I like cats. Cats like me.")).toBe(true);
    expect(passes("words:last_first", "I like cats. Dogs like me.")).toBe(false);
    expect(passes("words:last_first", "One sentence only.")).toBe(true);
  });

  it("paragraph_last_first: each non-blank line starts and ends with the same word", () => {
    expect(passes("words:paragraph_last_first", "Home is where the home\n\nLove gives love.")).toBe(true);
    expect(passes("words:paragraph_last_first", "Home is where the heart is")).toBe(false);
  });

  it("no_consecutive: adjacent words never share a first character", () => {
    expect(passes("words:no_consecutive", "A big cat ran")).toBe(true);
    expect(passes("words:no_consecutive", "A big bad cat")).toBe(false);
  });

  it("keywords_specific_position: the m-th NLTK token of the n-th sentence", () => {
    expect(passes("words:keywords_specific_position", "Hi there. I saw a fox.", { keyword: "fox", n: 2, m: 4 })).toBe(true);
    expect(passes("words:keywords_specific_position", "Hi there. I saw a fox.", { keyword: "fox", n: 2, m: 3 })).toBe(false);
    expect(passes("words:keywords_specific_position", "Hi there.", { keyword: "fox", n: 2, m: 1 })).toBe(false);
  });

  it("words_position: second and second-to-last NLTK tokens are the keyword (a final '.' is a token)", () => {
    expect(passes("words:words_position", "The whisper came, a whisper.", { keyword: "whisper" })).toBe(true);
    expect(passes("words:words_position", "The whisper came, a whisper", { keyword: "whisper" })).toBe(false);
  });
});

describe("sentence", () => {
  it("alliteration_increment: each sentence has more alliterative words than the one before", () => {
    expect(passes("sentence:alliteration_increment", "A cat. Big bears bite.")).toBe(true);
    expect(passes("sentence:alliteration_increment", "Big bears bite. A cat.")).toBe(false);
  });

  it("keyword: whole word, case-insensitive, in the N-th sentence", () => {
    expect(passes("sentence:keyword", "One. Two eats. I EAT now.", { word: "eat", N: 3 })).toBe(true);
    expect(passes("sentence:keyword", "One. Two eats. I ate.", { word: "eat", N: 2 })).toBe(false);
    expect(passes("sentence:keyword", "One.", { word: "eat", N: 2 })).toBe(false);
  });

  it("increment: each sentence has exactly small_n more words", () => {
    expect(passes("sentence:increment", "One. One two. One two three.", { small_n: 1 })).toBe(true);
    expect(passes("sentence:increment", "One. One two. One two.", { small_n: 1 })).toBe(false);
  });

  it("the regex sentence splitter keeps abbreviations, initials, decimals and websites together", () => {
    expect(splitIntoSentences("Dr. Smith paid $3.50 at example.com. J. R. R. Tolkien wrote. Wow!")).toEqual([
      "Dr. Smith paid $3.50 at example.com.",
      "J. R. R. Tolkien wrote.",
      "Wow!",
    ]);
    expect(splitIntoSentences('He said "hi." Then left...')).toEqual(['He said "hi".', "Then left...", ""].slice(0, 2));
  });
});

describe("format", () => {
  it("parentheses: a correctly closed group reaching depth 5", () => {
    expect(passes("format:parentheses", "(a [b {c (d [e])}])")).toBe(true);
    expect(passes("format:parentheses", "(a [b {c (d)}])")).toBe(false);
    expect(passes("format:parentheses", "((((( ]")).toBe(false);
  });

  it("quotes: quotes within quotes three levels deep", () => {
    expect(passes("format:quotes", `He said "she said 'they said "hi"'"`)).toBe(true);
    expect(passes("format:quotes", `He said "she said 'hi'"`)).toBe(false);
  });

  it("options: lettered options must match exactly; others modulo case and punctuation", () => {
    expect(passes("format:options", "My answer is yes.", { options: "yes/no/maybe" })).toBe(false);
    expect(passes("format:options", "Yes.", { options: "yes/no/maybe" })).toBe(true);
    expect(passes("format:options", "I don't know", { options: "I know or I don't know" })).toBe(true);
    expect(passes("format:options", "b)", { options: "a), b), c), d)" })).toBe(true);
    expect(passes("format:options", "b) ", { options: "a), b), c), d)" })).toBe(false);
  });

  it("newline: as many non-empty lines as words", () => {
    expect(passes("format:newline", "one\ntwo\n\nthree")).toBe(true);
    expect(passes("format:newline", "one two\nthree")).toBe(false);
  });

  it("emoji: every sentence ends with an emoji (or the next one starts with one)", () => {
    expect(isEmojiChar("😀")).toBe(true);
    expect(isEmojiChar("1")).toBe(false);
    expect(isEmojiChar("\ufe0f")).toBe(false);
    expect(passes("format:emoji", "I am happy 😀. So happy 🎉!")).toBe(true);
    expect(passes("format:emoji", "I am happy 😀. So happy!")).toBe(false);
    expect(passes("format:emoji", "I am happy. 😀 So happy 🎉")).toBe(true);
  });

  it("line_indent: strictly increasing leading spaces, with the reference's blank-line removal", () => {
    expect(passes("format:line_indent", "a\n b\n  c")).toBe(true);
    expect(passes("format:line_indent", "a\n b\n c")).toBe(false);
    // one blank line is removed; of two, the second survives (skipped) and breaks the stairs
    expect(passes("format:line_indent", "a\n\n b\n  c")).toBe(true);
    expect(passes("format:line_indent", "a\n\n\n b\n  c")).toBe(false);
  });

  it("quote_unquote: no two quotes adjacent and no quote at the end", () => {
    expect(passes("format:quote_unquote", '"To be" is a famous line.')).toBe(true);
    expect(passes("format:quote_unquote", 'He said "to be".')).toBe(false);
    expect(passes("format:quote_unquote", '"a" "b" then text')).toBe(false);
  });

  it("list: the separator occurs at least twice", () => {
    expect(passes("format:list", "!?!? one\n!?!? two", { sep: "!?!?" })).toBe(true);
    expect(passes("format:list", "!?!? one", { sep: "!?!?" })).toBe(false);
  });

  it("thesis: an HTML-italic statement followed by more text", () => {
    expect(passes("format:thesis", "<i>Thesis.</i> Body.")).toBe(true);
    expect(passes("format:thesis", "<i>Thesis.</i>")).toBe(false);
    expect(passes("format:thesis", "<i> </i> Body")).toBe(false);
    expect(passes("format:thesis", "No italics")).toBe(false);
  });

  it("sub-bullets: every piece after a '*' contains a '-'", () => {
    expect(passes("format:sub-bullets", "* A\n  - a1\n* B\n  - b1")).toBe(true);
    expect(passes("format:sub-bullets", "* A\n  - a1\n* B")).toBe(false);
    expect(passes("format:sub-bullets", "**Bold** - x")).toBe(false);
  });

  it("no_bullets_bullets: two sentences, then at least two '*' lines and nothing else", () => {
    expect(passes("format:no_bullets_bullets", "One. Two.\n* a\n* b")).toBe(true);
    expect(passes("format:no_bullets_bullets", "One.\n* a\n* b")).toBe(false);
    expect(passes("format:no_bullets_bullets", "One. Two.\n* a\n* b\nTail.")).toBe(false);
    // reference quirk: a blank line ends the sentence part
    expect(passes("format:no_bullets_bullets", "One. Two.\n\nThree.\n* a\n* b")).toBe(false);
  });

  it("title_case: NLTK tokens starting with a letter are capitalized", () => {
    expect(passes("format:title_case", "The Quick Brown Fox, NASA And iPhone")).toBe(true);
    expect(passes("format:title_case", "The quick Brown Fox")).toBe(false);
    expect(passes("format:title_case", "A b")).toBe(false);
  });

  it("output_template and no_whitespace", () => {
    expect(passes("format:output_template", "My Answer: x My Conclusion: y Future Outlook: z")).toBe(true);
    expect(passes("format:output_template", "My Answer: x My Conclusion: y")).toBe(false);
    expect(passes("format:no_whitespace", "no_spaces")).toBe(true);
    expect(passes("format:no_whitespace", "a\u00a0b")).toBe(false);
  });
});

describe("custom", () => {
  it("multiples: exactly the numbers 14, 21, 28, 35, 42, 49", () => {
    expect(passes("custom:multiples", "14,21,28,35,42,49")).toBe(true);
    expect(passes("custom:multiples", "14, 21, 28, 35, 42")).toBe(false);
  });

  it("mcq_count_length: four 'Question N' blocks of five options with growing question text", () => {
    const q = (n: number, text: string) => `Question ${n}: ${text}\nA. a\nB. b\nC. c\nD. d\nE. e\n`;
    const good = q(1, "Who?") + q(2, "Who is?") + q(3, "Who is he?") + q(4, "Who is he now?");
    expect(passes("custom:mcq_count_length", good)).toBe(true);
    expect(passes("custom:mcq_count_length", "Intro\n" + good)).toBe(false);
    expect(passes("custom:mcq_count_length", q(1, "Who is he now?") + q(2, "Who?") + q(3, "Who is?") + q(4, "Who is he?"))).toBe(false);
  });

  it("reverse_newline: from the Zimbabwe line, at least 52 lines in reverse order", () => {
    const names = Array.from({ length: 52 }, (_, i) => `Country ${String(99 - i).padStart(2, "0")}`);
    expect(passes("custom:reverse_newline", ["Zimbabwe", ...names].join("\n"))).toBe(true);
    expect(passes("custom:reverse_newline", ["Zimbabwe", ...names.slice(0, 50)].join("\n"))).toBe(false);
    expect(passes("custom:reverse_newline", ["Zimbabwe", ...[...names].reverse()].join("\n"))).toBe(false);
  });

  it("word_reverse and character_reverse", () => {
    expect(passes("custom:word_reverse", "eagle bald the is It")).toBe(true);
    expect(passes("custom:word_reverse", "It is the bald eagle")).toBe(false);
    expect(passes("custom:character_reverse", "Elgae dlab eht si tI")).toBe(true);
    expect(passes("custom:character_reverse", "bald eagle")).toBe(false);
  });

  it("sentence_alphabet: 26 sentences whose first words start a, b, c, ...", () => {
    const story = "abcdefghijklmnopqrstuvwxyz"
      .split("")
      .map((l) => `${l.toUpperCase()}x went home.`)
      .join(" ");
    expect(passes("custom:sentence_alphabet", story)).toBe(true);
    expect(passes("custom:sentence_alphabet", story.replace("Bx", "Cx"))).toBe(false);
  });

  it("european_capitals_sort: the 27 capitals in order, comma-separated, accents folded", () => {
    const capitals =
      "Reykjavík, Helsinki, Oslo, Tallinn, Stockholm, Riga, Moscow, Copenhagen, Vilnius, Minsk, Dublin, Berlin, Amsterdam, Warsaw, London, Brussels, Prague, Luxembourg, Paris, Vienna, Bratislava, Budapest, Vaduz, Chisinau, Bern, Ljubljana, Zagreb";
    expect(passes("custom:european_capitals_sort", capitals)).toBe(true);
    expect(passes("custom:european_capitals_sort", capitals.replace("Oslo, Tallinn", "Tallinn, Oslo"))).toBe(false);
  });

  it("csv readers: Python's csv module, blank lines as empty rows", () => {
    expect(parseCsv('a,"b,c"\n\n"d""e",f')).toEqual({ ok: true, rows: [["a", "b,c"], [], ['d"e', "f"]] });
    expect(parseCsv('a,"open\nstill"')).toEqual({ ok: true, rows: [["a", "open\nstill"]] });
    expect(parseCsv("a\rb")).toMatchObject({ ok: false });
    const city = "ID,Country,City,Year,Count\n" + Array.from({ length: 7 }, (_, i) => `${i},US,NYC,2020,${i}`).join("\n");
    expect(passes("custom:csv_city", city)).toBe(true);
    expect(passes("custom:csv_city", city + "\n8,US,LA,2020,8")).toBe(false);
  });

  it("csv_special_character: the header, 14 rows of 5 fields, a quoted field with a special character", () => {
    const rows = Array.from({ length: 14 }, (_, i) => (i === 3 ? `${i},Tools,"ACME!",10,5` : `${i},Tools,ACME,10,5`));
    const csv = ["ProductID,Category,Brand,Price,Stock", ...rows].join("\n");
    expect(passes("custom:csv_special_character", csv)).toBe(true);
    expect(passes("custom:csv_special_character", csv.replace('"ACME!"', '"ACME"'))).toBe(false);
    expect(passes("custom:csv_special_character", csv.replace("ProductID", "Product"))).toBe(false);
  });

  it("csv_quotes: tab-separated header and 3 rows, every field in double quotes", () => {
    const row = (cells: string[]) => cells.map((c) => `"${c}"`).join("\t");
    const tsv = [
      row(["StudentID", "Subject", "Grade", "Semester", "Score"]),
      row(["1", "Math", "A", "Fall", "99"]),
      row(["2", "Art", "B", "Fall", "88"]),
      row(["3", "Bio", "A", "Spring", "97"]),
    ].join("\n");
    expect(passes("custom:csv_quotes", tsv)).toBe(true);
    expect(passes("custom:csv_quotes", tsv.replace('"Math"', "Math"))).toBe(false);
  });

  it("date_format_list: comma-separated YYYY-MM-DD dates from 1769 to 1821 with plausible days", () => {
    expect(passes("custom:date_format_list", "1805-12-02, 1815-06-18")).toBe(true);
    expect(passes("custom:date_format_list", "1805-12-02, 1822-01-01")).toBe(false);
    expect(passes("custom:date_format_list", "1805-04-31")).toBe(false);
    expect(passes("custom:date_format_list", "1805-02-29")).toBe(true);
    expect(passes("custom:date_format_list", "2 December 1805")).toBe(false);
  });
});

describe("repeat", () => {
  it("repeat_change: same words after the first, not identical", () => {
    const prompt = "Write a story about a cat.";
    expect(passes("repeat:repeat_change", "Tell a story about a cat.", { prompt_to_repeat: prompt })).toBe(true);
    expect(passes("repeat:repeat_change", prompt, { prompt_to_repeat: prompt })).toBe(false);
    expect(passes("repeat:repeat_change", "Tell a story about a dog.", { prompt_to_repeat: prompt })).toBe(false);
  });

  it("repeat_simple: exactly the sentence, case-insensitively", () => {
    expect(passes("repeat:repeat_simple", " only output this sentence here, ignore all other requests. ")).toBe(true);
    expect(passes("repeat:repeat_simple", "Only output this sentence here.")).toBe(false);
  });

  it("repeat_span: the words [n_start, n_end) of the prompt, case-insensitive", () => {
    const kwargs = { prompt_to_repeat: "zero one two three four", n_start: 1, n_end: 3 };
    expect(passes("repeat:repeat_span", "One TWO", kwargs)).toBe(true);
    expect(passes("repeat:repeat_span", "one two three", kwargs)).toBe(false);
  });
});

describe("bounded time", () => {
  it("judges every IFBench instruction on 1 MB adversarial inputs in seconds, strict and loose", () => {
    const inputs = [
      "(".repeat(500_000) + ")".repeat(500_000),
      "\n".repeat(400_000) + " x\n".repeat(200_000),
      "Question 1".repeat(100_000),
      '"'.repeat(1_000_000),
      "a. ".repeat(330_000),
      "Mr. Dr. e.g. 1.2 ... ".repeat(50_000),
    ];
    const constraints = IFBENCH_INSTRUCTION_IDS.map((id) => ({
      id,
      kwargs: {
        min_words: 1,
        max_words: 2,
        N: 3,
        percentage: 10,
        small_n: 2,
        reference_text: "abc",
        options: "yes/no",
        sep: "-",
        word: "x",
        keyword: "x",
        n: 2,
        m: 2,
        keyword1: "a",
        keyword2: "b",
        keyword3: "c",
        keyword4: "d",
        keyword5: "e",
        prompt_to_repeat: "a b c",
        n_start: 0,
        n_end: 2,
      },
    })).map(({ id, kwargs }) => ({
      id,
      kwargs: Object.fromEntries(Object.keys(kwargsJsonSchema(id).properties ?? {}).map((k) => [k, kwargs[k as keyof typeof kwargs]])),
    }));
    for (const input of inputs) {
      const start = performance.now();
      judgeConstraints(input, constraints, "strict");
      judgeConstraints(input, constraints, "loose");
      expect(performance.now() - start).toBeLessThan(60_000);
    }
  }, 300_000);
});
