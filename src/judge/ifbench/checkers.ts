/**
 * IFBench's 58 verifiable instructions (Allen Institute for AI, `allenai/IFBench`): kwargs schema,
 * instruction text and check, one definition each, registered beside IFEval's 25.
 *
 * Semantics follow the reference implementation that produced the published verdicts (the
 * original release of `instructions.py`), quirks included, so that scores stay comparable; see
 * README.md for the list of quirks and for the later upstream fixes. Project policies: keywords,
 * separators and names are literal text, never regular expressions, and every scan is linear;
 * kwargs that the reference would replace with a random value when missing are required.
 */
import { z } from "zod";
import {
  PY_WHITESPACE,
  isPyBlank,
  isPyWhitespace,
  pyIsLower,
  pyIsUpper,
  pyLen,
  pyLower,
  pyLstrip,
  pySplitWhitespace,
  pyStrip,
} from "../text/python-str.ts";
import { TextAnalysis } from "../core/analysis.ts";
import { defineChecker, type CheckOutcome, type Checker, type TraceDimension } from "../core/checker.ts";
import { passage, phrase } from "../limits.ts";
import { parseCsv } from "./csv.ts";
import type { IfbenchInstructionId } from "./ids.ts";
import { isEmojiChar } from "./emoji.ts";
import { posTags } from "./pos-tag.ts";
import { sentencesOf, splitIntoSentences } from "./sentences.ts";
import {
  PUNCTUATION,
  asciiFold,
  chars,
  comparePy,
  countSubstring,
  countWordMatches,
  decimalValue,
  digitRuns,
  formatNumber,
  isPyDecimal,
  pyIsAlpha,
  pyIsDigit,
  removePunctuation,
  stripPunctuation,
} from "./py.ts";
import { NLTK_ENGLISH_STOPWORDS } from "./stopwords.ts";
import { countSyllables } from "./syllables.ts";

// ---- kwargs building blocks -------------------------------------------------------------------

const noKwargs = z.strictObject({});
const count = (what: string) => z.int().min(0).describe(what);
const positive = (what: string) => z.int().min(1).describe(what);
const percentage = (what: string) => z.number().min(0).describe(what);
// strings and lists are capped and non-blank (../limits.ts)
const nonBlank = phrase;

const define = <S extends z.ZodType>(definition: Parameters<typeof defineChecker<S>>[1] & { id: IfbenchInstructionId }) =>
  defineChecker("ifbench", definition);

/** A kwargs-free instruction whose text is fixed. */
function fixed(id: IfbenchInstructionId, trace: TraceDimension, instruction: string, check: (text: TextAnalysis) => CheckOutcome) {
  return define({ id, trace, kwargs: noKwargs, describe: () => instruction, check });
}

const outcome = (passed: boolean, evidence: Record<string, unknown>): CheckOutcome => ({ passed, evidence });

// ---- count ------------------------------------------------------------------------------------

const wordCountRange = define({
  id: "count:word_count_range",
  trace: "Numerical Constraint",
  kwargs: z
    .strictObject({
      min_words: count("Minimum number of words (inclusive)"),
      max_words: count("Maximum number of words (inclusive)"),
    })
    .describe("Words are runs of word characters (\\w+)"),
  describe: ({ min_words, max_words }) =>
    `The response must contain between ${formatNumber(min_words)} and ${formatNumber(max_words)} words.`,
  check(text, { min_words, max_words }) {
    const words = text.wordCount;
    return outcome(min_words <= words && words <= max_words, { words, min: min_words, max: max_words });
  },
});

const uniqueWordCount = define({
  id: "count:unique_word_count",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ N: count("Minimum number of distinct words") }),
  describe: ({ N }) => `Use at least ${formatNumber(N)} unique words in the response.`,
  check(text, { N }) {
    // Whitespace-separated words, lower-cased, stripped of ASCII punctuation (an all-punctuation
    // word counts as the empty word).
    const unique = new Set(pySplitWhitespace(pyLower(text.text)).map((word) => stripPunctuation(word)));
    return outcome(unique.size >= N, { unique_words: unique.size, relation: "at least", target: N });
  },
});

const CONJUNCTIONS = new Set(["and", "but", "for", "nor", "or", "so", "yet"]);

const conjunctions = define({
  id: "count:conjunctions",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ small_n: count("Minimum number of different coordinating conjunctions") }),
  describe: ({ small_n }) => `Use at least ${formatNumber(small_n)} different coordinating conjunctions in the response.`,
  check(text, { small_n }) {
    // Reference quirk: the distinct *original* words are counted, so "And" and "and," are two.
    const found = new Set(pySplitWhitespace(text.text).filter((word) => CONJUNCTIONS.has(pyLower(stripPunctuation(word)))));
    return outcome(found.size >= small_n, { conjunctions: [...found], relation: "at least", target: small_n });
  },
});

const PERSON_NAMES = [
  "Emma",
  "Liam",
  "Sophia",
  "Jackson",
  "Olivia",
  "Noah",
  "Ava",
  "Lucas",
  "Isabella",
  "Mason",
  "Mia",
  "Ethan",
  "Charlotte",
  "Alexander",
  "Amelia",
  "Benjamin",
  "Harper",
  "Leo",
  "Zoe",
  "Daniel",
  "Chloe",
  "Samuel",
  "Lily",
  "Matthew",
  "Grace",
  "Owen",
  "Abigail",
  "Gabriel",
  "Ella",
  "Jacob",
  "Scarlett",
  "Nathan",
  "Victoria",
  "Elijah",
  "Layla",
  "Nicholas",
  "Audrey",
  "David",
  "Hannah",
  "Christopher",
  "Penelope",
  "Thomas",
  "Nora",
  "Andrew",
  "Aria",
  "Joseph",
  "Claire",
  "Ryan",
  "Stella",
  "Jonathan",
] as const;

const personNames = define({
  id: "count:person_names",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ N: count("Minimum number of different names from the list") }),
  describe: ({ N }) =>
    `Mention at least ${formatNumber(N)} different person names in the response, from this list of person names: ${PERSON_NAMES.join(", ")} .`,
  check(text, { N }) {
    // `\bName\b` for a name made of word characters matches exactly a maximal run of word characters.
    const runs = new Set(text.text.match(/[\p{L}\p{N}_]+/gu) ?? []);
    const found = PERSON_NAMES.filter((name) => runs.has(name));
    return outcome(found.length >= N, { names: found, relation: "at least", target: N });
  },
});

const numbers = define({
  id: "count:numbers",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ N: count("Exact number of numbers") }),
  describe: ({ N }) => `Include exactly ${formatNumber(N)} numbers in the response.`,
  check(text, { N }) {
    // Punctuation is removed first, so "3.14" and "1,000" are one number each.
    const found = digitRuns(removePunctuation(text.text)).length;
    return outcome(found === N, { numbers: found, relation: "exactly", target: N });
  },
});

const PUNCTUATION_MARKS = [".", ",", "!", "?", ";", ":"] as const;

const punctuationCover = fixed(
  "count:punctuation",
  "Numerical Constraint",
  "Use every standard punctuation mark at least once, including semicolons, colons, and the interrobang (?!).",
  (text) => {
    const value = text.text;
    if (!(value.includes("!?") || value.includes("?!") || value.includes("‽"))) {
      return outcome(false, { interrobang: false });
    }
    // The first "?!" (else "!?") is the interrobang and does not count for "?" and "!".
    let rest = value.replace("?!", "");
    if (rest.length === value.length) rest = value.replace("!?", "");
    const missing = PUNCTUATION_MARKS.filter((mark) => !rest.includes(mark));
    return outcome(missing.length === 0, { interrobang: true, missing });
  },
);

const japaneseOrdinal = (n: number): string => {
  // The reference's wording, including its "Every 1st of your response" (no "word") forms.
  if (n % 10 === 1) return `Every ${formatNumber(n)}st of your response must be in Japanese.`;
  if (n % 10 === 2) return `Every ${formatNumber(n)}nd of your response must be in Japanese.`;
  if (n % 10 === 3) return `Every ${formatNumber(n)}rd of your response must be in Japanese.`;
  return `Every ${formatNumber(n)}th word of your response must be in Japanese.`;
};

const JAPANESE_RE = /[\u3040-\u30ff\u4e00-\u9fff]/;

const wordsJapanese = define({
  id: "count:words_japanese",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ N: positive("Every N-th whitespace-separated word must contain Japanese script") }),
  describe: ({ N }) => japaneseOrdinal(N),
  check(text, { N }) {
    const words = pySplitWhitespace(text.text);
    for (let i = N - 1; i < words.length; i += N) {
      const word = stripPunctuation(words[i]!);
      if (word !== "" && !pyIsDigit(word) && !JAPANESE_RE.test(word)) {
        return outcome(false, { position: i + 1, word, every: N });
      }
    }
    return outcome(true, { words: words.length, every: N });
  },
});

const PRONOUNS = new Set([
  "i",
  "me",
  "my",
  "mine",
  "myself",
  "we",
  "us",
  "our",
  "ours",
  "ourselves",
  "you",
  "your",
  "yours",
  "yourself",
  "yourselves",
  "he",
  "him",
  "his",
  "himself",
  "she",
  "her",
  "hers",
  "herself",
  "it",
  "its",
  "itself",
  "they",
  "them",
  "their",
  "theirs",
  "themselves",
]);

const pronouns = define({
  id: "count:pronouns",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ N: count("Minimum number of personal pronouns") }),
  describe: ({ N }) => `The response should include at least ${formatNumber(N)} pronouns.`,
  check(text, { N }) {
    // NLTK tokens of the lower-cased text with "/" spaced out (she/her/hers counts three).
    const tokens = new TextAnalysis(pyLower(text.text.replaceAll("/", " "))).tokens;
    const found = tokens.filter((token) => PRONOUNS.has(token)).length;
    return outcome(found >= N, { pronouns: found, relation: "at least", target: N });
  },
});

const keywordsMultiple = define({
  id: "count:keywords_multiple",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({
    keyword1: nonBlank("Must occur exactly once"),
    keyword2: nonBlank("Must occur exactly twice"),
    keyword3: nonBlank("Must occur exactly three times"),
    keyword4: nonBlank("Must occur exactly five times"),
    keyword5: nonBlank("Must occur exactly seven times"),
  }),
  describe: (k) =>
    `Include keyword ${pyStrip(k.keyword1)} once in your response, keyword ${pyStrip(k.keyword2)} twice in your response, keyword ${pyStrip(k.keyword3)} three times in your response, keyword ${pyStrip(k.keyword4)} five times in your response, and keyword ${pyStrip(k.keyword5)} seven times in your response.`,
  check(text, k) {
    // Case-insensitive substring counts (so "art" also counts inside "start").
    const lowered = pyLower(text.text);
    const targets: Array<[string, number]> = [
      [k.keyword1, 1],
      [k.keyword2, 2],
      [k.keyword3, 3],
      [k.keyword4, 5],
      [k.keyword5, 7],
    ];
    const counts = targets.map(([keyword, target]) => {
      const word = pyStrip(keyword);
      return { keyword: word, occurrences: countSubstring(lowered, pyLower(word)), target };
    });
    return outcome(
      counts.every((c) => c.occurrences === c.target),
      { keywords: counts },
    );
  },
});

// ---- ratio ------------------------------------------------------------------------------------

const stopWords = define({
  id: "ratio:stop_words",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({ percentage: percentage("Maximum share of stop words, in percent") }),
  describe: ({ percentage }) =>
    `Ensure that stop words constitute no more than ${formatNumber(percentage)}% of the total words in your response.`,
  check(text, { percentage }) {
    const words = text.text.match(/[\p{L}\p{N}_]+/gu) ?? [];
    if (words.length === 0) return outcome(false, { words: 0 });
    const stop = words.filter((word) => NLTK_ENGLISH_STOPWORDS.has(pyLower(word))).length;
    const share = (stop / words.length) * 100;
    return outcome(share <= percentage, { words: words.length, stop_words: stop, percentage: share, target: percentage });
  },
});

function sentenceEndings(text: TextAnalysis) {
  const sentences = sentencesOf(text);
  const endsWith = (mark: string) => sentences.filter((sentence) => sentence.endsWith(mark)).length;
  return { declarative: endsWith("."), interrogative: endsWith("?"), exclamatory: endsWith("!") };
}

const sentenceType = fixed(
  "ratio:sentence_type",
  "Numerical Constraint",
  "Maintain a 2:1 ratio of declarative to interrogative sentences.",
  (text) => {
    const { declarative, interrogative } = sentenceEndings(text);
    // Reference quirk: no sentence ending in "." or "?" at all is a 0:0 ratio, which passes.
    return outcome(declarative === 2 * interrogative, { declarative, interrogative });
  },
);

const sentenceBalance = fixed(
  "ratio:sentence_balance",
  "Numerical Constraint",
  "Ensure that the ratio of sentence types (declarative, interrogative, exclamatory) is balanced.",
  (text) => {
    const counts = sentenceEndings(text);
    return outcome(counts.declarative === counts.interrogative && counts.interrogative === counts.exclamatory, counts);
  },
);

function characterTrigrams(s: string): Set<string> {
  const points = chars(s);
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= points.length; i++) grams.add(points[i]! + "\u0000" + points[i + 1]! + "\u0000" + points[i + 2]!);
  return grams;
}

const overlap = define({
  id: "ratio:overlap",
  trace: "Numerical Constraint",
  kwargs: z.strictObject({
    reference_text: passage("The text to overlap with"),
    percentage: percentage("Target share of the response's trigrams found in the reference text, in percent (±2)"),
  }),
  describe: ({ percentage }) => `Maintain a trigram overlap of ${formatNumber(percentage)}% (±2%) with the provided reference text.`,
  check(text, { reference_text, percentage }) {
    // The reference builds `nltk.ngrams` over the strings themselves: character trigrams.
    const grams = characterTrigrams(text.text);
    if (grams.size === 0) return outcome(false, { trigrams: 0 });
    const reference = characterTrigrams(reference_text);
    let shared = 0;
    for (const gram of grams) if (reference.has(gram)) shared++;
    const share = (shared / grams.size) * 100;
    return outcome(percentage - 2 <= share && share <= percentage + 2, {
      trigrams: grams.size,
      shared,
      overlap_percentage: share,
      target: percentage,
      tolerance: 2,
    });
  },
});

const sentenceWords = fixed(
  "ratio:sentence_words",
  "Numerical Constraint",
  "Respond with three sentences, all containing the same number of characters but using all different words.",
  (text) => {
    const sentences = sentencesOf(text);
    const lengths = sentences.map((sentence) => pyLen(pyStrip(sentence)));
    // The reference checks only the sentence count and lengths (not that the words differ).
    const passed = sentences.length === 3 && lengths.every((length) => length === lengths[0]);
    return outcome(passed, { sentences: sentences.length, lengths });
  },
);

// ---- words ------------------------------------------------------------------------------------

const ALPHABET = "abcdefghijklmnopqrstuvwxyz";

const alphabet = fixed(
  "words:alphabet",
  "Linguistic Characteristics Constraint",
  "Each word must start with the next letter of the alphabet, looping back to 'A' after 'Z'.",
  (text) => {
    const words = pySplitWhitespace(stripPunctuation(removePunctuation(text.text)));
    if (words.length === 0) return outcome(false, { words: 0 });
    let letter = pyLower(chars(words[0]!)[0]!);
    if (!ALPHABET.includes(letter) || letter.length !== 1) return outcome(false, { position: 1, word: words[0] });
    for (let i = 1; i < words.length; i++) {
      const word = pyLower(stripPunctuation(words[i]!));
      if (word === "") continue;
      letter = ALPHABET[(ALPHABET.indexOf(letter) + 1) % 26]!;
      if (chars(word)[0] !== letter) return outcome(false, { position: i + 1, word: words[i], expected_letter: letter });
    }
    return outcome(true, { words: words.length });
  },
);

const VOWELS = new Set(["a", "e", "i", "o", "u"]);

const vowel = fixed(
  "words:vowel",
  "Linguistic Characteristics Constraint",
  "Write a paragraph using words that contain only three types of vowels.",
  (text) => {
    const lines = pyStrip(text.text).split("\n");
    if (lines.length !== 1) return outcome(false, { lines: lines.length });
    const used = new Set(chars(pyLower(lines[0]!)).filter((ch) => VOWELS.has(ch)));
    return outcome(used.size <= 3, { vowels: [...used].sort() });
  },
);

const CONSONANTS = new Set("bcdfghjklmnpqrstvwxyz");

const consonants = fixed(
  "words:consonants",
  "Linguistic Characteristics Constraint",
  "Ensure each word in your response has at least one consonant cluster (two or more consonants together).",
  (text) => {
    for (const word of pySplitWhitespace(pyLower(text.text))) {
      const letters = chars(word);
      let cluster = false;
      for (let i = 0; i + 1 < letters.length && !cluster; i++) cluster = CONSONANTS.has(letters[i]!) && CONSONANTS.has(letters[i + 1]!);
      if (!cluster) return outcome(false, { word });
    }
    return outcome(true, {});
  },
);

const palindrome = fixed(
  "words:palindrome",
  "Linguistic Characteristics Constraint",
  "Include at least 10 single-word palindromes, each at least 5 characters long.",
  (text) => {
    const found = pySplitWhitespace(pyLower(removePunctuation(text.text))).filter((word) => {
      const letters = chars(word);
      return letters.length >= 5 && letters.join("") === [...letters].reverse().join("");
    });
    return outcome(found.length >= 10, { palindromes: found.length, relation: "at least", target: 10 });
  },
);

const PRIMES = new Set([2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97]);

const primeLengths = fixed(
  "words:prime_lengths",
  "Linguistic Characteristics Constraint",
  "Use only words with lengths that are prime numbers.",
  (text) => {
    const offending = pySplitWhitespace(removePunctuation(text.text)).find((word) => !PRIMES.has(pyLen(word)));
    return outcome(offending === undefined, offending === undefined ? {} : { word: offending, length: pyLen(offending) });
  },
);

const startVerb = fixed("words:start_verb", "Linguistic Characteristics Constraint", "The response must start with a verb.", (text) => {
  const tokens = text.tokens;
  if (tokens.length === 0) return outcome(false, { tokens: 0 });
  // Tag the first sentence's worth of context; a tag depends only on nearby tokens.
  const tag = posTags(tokens.slice(0, 64))[0]!;
  return outcome(tag.includes("VB"), { first_token: tokens[0], tag, tagger: "wink-pos-tagger" });
});

const repeats = define({
  id: "words:repeats",
  trace: "Linguistic Characteristics Constraint",
  kwargs: z.strictObject({ small_n: count("Maximum number of times any word may occur") }),
  describe: ({ small_n }) => `The response should not repeat any word more than ${formatNumber(small_n)} times.`,
  check(text, { small_n }) {
    const counts = new Map<string, number>();
    for (const word of pySplitWhitespace(removePunctuation(pyLower(text.text)))) counts.set(word, (counts.get(word) ?? 0) + 1);
    let worst: [string, number] | undefined;
    for (const entry of counts) if (!worst || entry[1] > worst[1]) worst = entry;
    const passed = !worst || worst[1] <= small_n;
    return outcome(passed, { most_repeated: worst?.[0] ?? null, occurrences: worst?.[1] ?? 0, max_allowed: small_n });
  },
});

const oddEvenSyllables = fixed(
  "words:odd_even_syllables",
  "Linguistic Characteristics Constraint",
  "Alternate between words with odd and even numbers of syllables.",
  (text) => {
    const words = pySplitWhitespace(pyLower(removePunctuation(text.text)));
    let previous: number | undefined;
    for (let i = 0; i < words.length; i++) {
      const parity = countSyllables(words[i]!) % 2;
      if (previous === parity)
        return outcome(false, { position: i + 1, word: words[i], previous_word: words[i - 1], parity: parity ? "odd" : "even" });
      previous = parity;
    }
    return outcome(true, { words: words.length });
  },
);

const lastFirst = fixed(
  "words:last_first",
  "Linguistic Characteristics Constraint",
  "The last word of each sentence must become the first word of the next sentence.",
  (text) => {
    const sentences = sentencesOf(text);
    for (let i = 0; i + 1 < sentences.length; i++) {
      const last = pySplitWhitespace(stripPunctuation(sentences[i]!, "right")).at(-1);
      const first = pySplitWhitespace(stripPunctuation(sentences[i + 1]!, "left"))[0];
      if (last === undefined || first === undefined || pyLower(last) !== pyLower(first)) {
        return outcome(false, { sentence: i + 2, last_word: last ?? null, first_word: first ?? null });
      }
    }
    return outcome(true, { sentences: sentences.length });
  },
);

const paragraphLastFirst = fixed(
  "words:paragraph_last_first",
  "Linguistic Characteristics Constraint",
  "Each paragraph must end with the same word it started with, separate paragraphs with a newline.",
  (text) => {
    const lines = text.text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const paragraph = pyLower(pyStrip(lines[i]!));
      if (paragraph === "") continue;
      const words = pySplitWhitespace(stripPunctuation(paragraph));
      if (words.length === 0) continue;
      if (words[0] !== words.at(-1)) return outcome(false, { line: i + 1, first_word: words[0], last_word: words.at(-1) });
    }
    return outcome(true, {});
  },
);

const noConsecutive = fixed(
  "words:no_consecutive",
  "Linguistic Characteristics Constraint",
  "No two consecutive words can share the same first letter.",
  (text) => {
    const words = pySplitWhitespace(removePunctuation(pyLower(text.text)));
    for (let i = 0; i + 1 < words.length; i++) {
      if (chars(words[i]!)[0] === chars(words[i + 1]!)[0]) return outcome(false, { words: [words[i], words[i + 1]] });
    }
    return outcome(true, {});
  },
);

const keywordsSpecificPosition = define({
  id: "words:keywords_specific_position",
  trace: "Text Pattern Constraint",
  kwargs: z.strictObject({
    keyword: nonBlank("The word (compared case-insensitively with an NLTK token)"),
    n: positive("Sentence number (1-based)"),
    m: positive("Word (NLTK token) number within that sentence (1-based)"),
  }),
  describe: ({ keyword, n, m }) =>
    `Include keyword ${pyStrip(keyword)} in the ${formatNumber(n)}-th sentence, as the ${formatNumber(m)}-th word of that sentence.`,
  check(text, { keyword, n, m }) {
    const sentences = sentencesOf(text);
    if (sentences.length < n) return outcome(false, { sentences: sentences.length, target_sentence: n });
    // Punctuation tokens count as words, as in the reference.
    const tokens = new TextAnalysis(sentences[n - 1]!).tokens;
    if (tokens.length < m) return outcome(false, { words_in_sentence: tokens.length, target_word: m });
    const found = tokens[m - 1]!;
    return outcome(pyLower(found) === pyLower(pyStrip(keyword)), { word: found, keyword: pyStrip(keyword) });
  },
});

const wordsPosition = define({
  id: "words:words_position",
  trace: "Text Pattern Constraint",
  kwargs: z.strictObject({ keyword: nonBlank("The word that must be second and second to last") }),
  describe: ({ keyword }) =>
    `The second word in your response and the second to last word in your response should be the word ${pyStrip(keyword)}.`,
  check(text, { keyword }) {
    // NLTK tokens, punctuation included: a final "." is the last token.
    const tokens = text.tokens;
    if (tokens.length < 2) return outcome(false, { tokens: tokens.length });
    const second = tokens[1]!;
    const secondToLast = tokens.at(-2)!;
    const target = pyLower(pyStrip(keyword));
    return outcome(pyLower(second) === pyLower(secondToLast) && pyLower(secondToLast) === target, {
      second_word: second,
      second_to_last_word: secondToLast,
      keyword: pyStrip(keyword),
    });
  },
});

// ---- sentence ---------------------------------------------------------------------------------

const alliterationIncrement = fixed(
  "sentence:alliteration_increment",
  "Text Pattern Constraint",
  "Each sentence must have a longer sequence of consecutive alliterative words than the previous one.",
  (text) => {
    let previous = -1;
    const scores: number[] = [];
    for (const sentence of sentencesOf(text)) {
      const words = pySplitWhitespace(pyLower(sentence))
        .map((word) => stripPunctuation(word, "left"))
        .filter((word) => word !== "");
      let score = 0;
      let run = false;
      for (let i = 0; i + 1 < words.length; i++) {
        if (chars(words[i]!)[0] === chars(words[i + 1]!)[0]) {
          score += run ? 1 : 2;
          run = true;
        } else run = false;
      }
      scores.push(score);
      if (score <= previous) return outcome(false, { alliterative_words: scores });
      previous = score;
    }
    return outcome(true, { alliterative_words: scores });
  },
);

const keywordSentence = define({
  id: "sentence:keyword",
  trace: "Inclusion Constraint",
  kwargs: z.strictObject({
    word: nonBlank("The keyword (whole word, case-insensitive)"),
    N: positive("Sentence number (1-based)"),
  }),
  describe: ({ word, N }) => `The response must include keyword "${word}" in the ${formatNumber(N)}-th sentence.`,
  check(text, { word, N }) {
    const sentences = sentencesOf(text);
    if (sentences.length < N) return outcome(false, { sentences: sentences.length, target_sentence: N });
    const found = countWordMatches(sentences[N - 1]!, word, true) > 0;
    return outcome(found, { sentence: N, found });
  },
});

const increment = define({
  id: "sentence:increment",
  trace: "Text Pattern Constraint",
  kwargs: z.strictObject({ small_n: count("How many more words each sentence has than the one before") }),
  describe: ({ small_n }) => `Each sentence must contain exactly ${formatNumber(small_n)} more words than the previous one.`,
  check(text, { small_n }) {
    const counts = sentencesOf(text).map((sentence) => pySplitWhitespace(removePunctuation(sentence)).length);
    for (let i = 1; i < counts.length; i++) {
      if (counts[i] !== counts[i - 1]! + small_n) return outcome(false, { words_per_sentence: counts, increment: small_n });
    }
    return outcome(counts.length > 0, { words_per_sentence: counts, increment: small_n });
  },
});

// ---- format -----------------------------------------------------------------------------------

const parentheses = fixed(
  "format:parentheses",
  "Output Format Constraint",
  "Nest parentheses (and [brackets {and braces}]) at least 5 levels deep.",
  (text) => {
    const stack: string[] = [];
    let maxDepth = 0;
    const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    for (const ch of text.text) {
      if (ch === "(" || ch === "[" || ch === "{") {
        stack.push(ch);
        maxDepth = Math.max(maxDepth, stack.length);
      } else if (ch in closing) {
        if (stack.length > 0 && stack.at(-1) === closing[ch]) {
          stack.pop();
          if (maxDepth >= 5 && stack.length < maxDepth) return outcome(true, { depth: maxDepth });
        } else {
          // A mismatched closer resets the count.
          stack.length = 0;
          maxDepth = 0;
        }
      }
    }
    return outcome(false, { depth: maxDepth, relation: "at least", target: 5 });
  },
);

const nestedQuotes = fixed(
  "format:quotes",
  "Output Format Constraint",
  "Include quotes within quotes within quotes, at least 3 levels deep, alternating between double quotes and single quotes.",
  (text) => {
    const stack: string[] = [];
    let reached = 0;
    for (const ch of text.text) {
      if (stack.length > 0 && ch === stack.at(-1)) {
        stack.pop();
        if (reached - stack.length >= 3) return outcome(true, { depth: reached });
      } else if (ch === '"' || ch === "'") {
        stack.push(ch);
        reached = Math.max(reached, stack.length);
      }
    }
    return outcome(false, { depth: reached, relation: "at least", target: 3 });
  },
);

/** `re.match(r"\W*[aA]\W*[bB]\W*[cC]\W*", options)`: lettered options a, b, c (strict matching). */
function isLetteredOptions(options: string): boolean {
  const points = chars(options);
  let i = 0;
  for (const letter of ["a", "b", "c"]) {
    while (i < points.length && !/^[\p{L}\p{N}_]$/u.test(points[i]!)) i++;
    if (points[i]?.toLowerCase() !== letter || !/^[aAbBcC]$/.test(points[i]!)) return false;
    i++;
  }
  return true;
}

const options = define({
  id: "format:options",
  trace: "Output Format Constraint",
  kwargs: z.strictObject({
    options: phrase('The allowed answers, separated by "/", else "or", else ",", e.g. "yes/no/maybe" or "a), b), c), d)"'),
  }),
  describe: ({ options }) => `Answer with one of the following options: ${options}. Do not give any explanation.`,
  check(text, { options }) {
    const strict = isLetteredOptions(options);
    const separator = options.includes("/") ? "/" : options.includes("or") ? "or" : ",";
    const choices = options.split(separator).map(pyStrip);
    const value = text.text;
    if (strict) return outcome(choices.includes(value), { options: choices, exact: true });
    const normalized = pyLower(stripPunctuation(value));
    const matched = choices.find((choice) => pyLower(stripPunctuation(choice)) === normalized) ?? null;
    return outcome(matched !== null, { options: choices, matched });
  },
});

const newline = fixed("format:newline", "Output Format Constraint", "Write each word on a new line.", (text) => {
  const value = pyStrip(removePunctuation(text.text));
  const lines = value.split("\n").filter((line) => line !== "");
  const words = pySplitWhitespace(value).length;
  return outcome(lines.length === words, { lines: lines.length, words });
});

const emojiSentences = fixed("format:emoji", "Output Format Constraint", "Please use an emoji at the end of every sentence.", (text) => {
  const sentences = sentencesOf(text);
  for (let i = 0; i < sentences.length; i++) {
    const stripped = chars(pyStrip(removePunctuation(sentences[i]!)));
    if (stripped.length === 0) return outcome(false, { sentence: i + 1, empty: true });
    const last = stripped.at(-1)!;
    const secondLast = stripped.length > 1 ? stripped.at(-2)! : last;
    if (isEmojiChar(last) || isEmojiChar(secondLast)) continue;
    // An emoji that Punkt attached to the start of the next sentence also counts.
    if (i === sentences.length - 1) return outcome(false, { sentence: i + 1 });
    const next = chars(pyStrip(removePunctuation(sentences[i + 1]!)));
    if (next.length === 0 || !isEmojiChar(next[0]!)) return outcome(false, { sentence: i + 1 });
  }
  return outcome(true, { sentences: sentences.length });
});

/**
 * The reference drops blank lines with `for line in lines: if not line.strip(): lines.remove(line)`,
 * which mutates the list it iterates: after each removal the next line is skipped, and `remove`
 * takes the first line equal to the blank one (possibly an earlier, skipped one). Reproduced in
 * linear time with a linked list and, per blank value, a queue of its lines in order.
 */
function referenceBlankLineRemoval(lines: string[]): string[] {
  const n = lines.length;
  const next = new Int32Array(n + 1).fill(-1);
  const prev = new Int32Array(n + 1).fill(-1);
  // node i (0..n-1) holds lines[i]; node n is the head sentinel
  const head = n;
  let last = head;
  for (let i = 0; i < n; i++) {
    next[last] = i;
    prev[i] = last;
    last = i;
  }
  const queues = new Map<string, { items: number[]; front: number }>();
  for (let i = 0; i < n; i++) {
    if (!isPyBlank(lines[i]!)) continue;
    let queue = queues.get(lines[i]!);
    if (!queue) queues.set(lines[i]!, (queue = { items: [], front: 0 }));
    queue.items.push(i);
  }
  const unlink = (node: number) => {
    const p = prev[node]!;
    const q = next[node]!;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  let current = next[head]!;
  while (current !== -1) {
    const following = next[current]!;
    if (isPyBlank(lines[current]!)) {
      const queue = queues.get(lines[current]!)!;
      unlink(queue.items[queue.front++]!);
      // Python's iterator index moves on by one in the shortened list: one line is skipped.
      current = following === -1 ? -1 : next[following]!;
    } else current = following;
  }
  const kept: string[] = [];
  for (let node = next[head]!; node !== -1; node = next[node]!) kept.push(lines[node]!);
  return kept;
}

function leadingSpaces(line: string): number {
  let i = 0;
  while (i < line.length && line[i] === " ") i++;
  return i;
}

const lineIndent = fixed(
  "format:line_indent",
  "Output Format Constraint",
  "Create stairs by incrementally indenting each new line.",
  (text) => {
    const lines = referenceBlankLineRemoval(text.text.split("\n"));
    for (let i = 0; i + 1 < lines.length; i++) {
      const current = leadingSpaces(lines[i]!);
      const following = leadingSpaces(lines[i + 1]!);
      if (following <= current) return outcome(false, { line: i + 2, indent: following, previous_indent: current });
    }
    return outcome(true, { lines: lines.length });
  },
);

const quoteUnquote = fixed(
  "format:quote_unquote",
  "Output Format Constraint",
  "Every quoted phrase must be followed by an unquoted explanation.",
  (text) => {
    let value = text.text.replaceAll("'\"'", "");
    value = chars(value)
      .filter((ch) => !isPyWhitespace(ch))
      .join("");
    if (value.includes('""')) return outcome(false, { adjacent_quotes: true });
    const trailing = "0123456789" + PUNCTUATION.replace('"', "");
    const stripped = chars(value);
    let start = 0;
    let end = stripped.length;
    while (start < end && trailing.includes(stripped[start]!)) start++;
    while (end > start && trailing.includes(stripped[end - 1]!)) end--;
    const endsWithQuote = end > start && stripped[end - 1] === '"';
    return outcome(!endsWithQuote, { adjacent_quotes: false, ends_with_quote: endsWithQuote });
  },
);

const specialBullets = define({
  id: "format:list",
  trace: "Numbering and List Constraint",
  kwargs: z.strictObject({ sep: phrase('The marker used instead of bullet points, e.g. "!?!?" or "SEPARATOR"') }),
  describe: ({ sep }) => `Answer with a list of items, instead of bullet points use ${sep}.`,
  check(text, { sep }) {
    // At least two occurrences anywhere (not necessarily at line starts).
    const occurrences = countSubstring(text.text, sep);
    return outcome(occurrences >= 2, { occurrences, relation: "at least", target: 2 });
  },
});

const thesis = fixed(
  "format:thesis",
  "Output Format Constraint",
  "Each section must begin with a thesis statement in italics, use HTML to indicate the italics.",
  (text) => {
    let value = text.text;
    let index = value.indexOf("<i>");
    if (index === -1) index = value.indexOf("<em>");
    if (index === -1) return outcome(false, { italics: false });
    value = value.slice(index);
    let end = value.indexOf("</i>");
    if (end === -1) end = value.indexOf("</em>");
    if (end === -1) return outcome(false, { italics: true, closed: false });
    // Reference quirk: the offsets are those of <i>/</i> even for <em>/</em>.
    const statement = value.slice(3, Math.max(3, end));
    if (isPyBlank(statement)) return outcome(false, { italics: true, thesis: "" });
    const after = value.slice(end + 4);
    return outcome(!isPyBlank(after), { italics: true, thesis: pyStrip(statement), text_after: !isPyBlank(after) });
  },
);

const subBullets = fixed(
  "format:sub-bullets",
  "Hierarchical Structure Constraint",
  "Your response must include bullet points denoted by * and at least one sub-bullet point denoted by - for each bullet point.",
  (text) => {
    // Every piece after a "*" (any "*", also inside **bold**) must contain a "-".
    const pieces = text.text.split("*").slice(1);
    const without = pieces.findIndex((piece) => !piece.includes("-"));
    return outcome(without === -1, { asterisks: pieces.length, ...(without === -1 ? {} : { piece_without_dash: without + 1 }) });
  },
);

const someBullets = fixed(
  "format:no_bullets_bullets",
  "Numbering and List Constraint",
  "Your answer must contain at least two sentences ending in a period followed by at least two bullet points denoted by *.",
  (text) => {
    let sentencesOpen = true;
    let sentences = 0;
    let bullets = 0;
    for (const [i, line] of text.text.split("\n").entries()) {
      if (pyStrip(line).startsWith("*")) {
        sentencesOpen = false;
        if (sentences < 2) return outcome(false, { sentences, bullets, line: i + 1 });
        bullets++;
      } else if (sentencesOpen) {
        // Reference quirk: a line without sentences (e.g. a blank one) ends the sentence part.
        const found = splitIntoSentences(pyStrip(line)).length;
        sentences += found;
        sentencesOpen = found > 0;
      } else return outcome(false, { sentences, bullets, line: i + 1 });
    }
    return outcome(bullets >= 2, { sentences, bullets });
  },
);

const titleCase = fixed(
  "format:title_case",
  "Output Format Constraint",
  "Write the entire response in title case (capitalize the first letter of every major word).",
  (text) => {
    for (const token of text.tokens) {
      const letters = chars(token);
      if (letters.length === 0 || !pyIsAlpha(letters[0]!)) continue;
      const first = letters[0]!;
      if (letters.length === 1) {
        if (pyIsLower(first)) return outcome(false, { word: token });
        continue;
      }
      const rest = letters.slice(1).join("");
      if (pyIsUpper(first) && pyIsLower(rest)) continue;
      if (pyIsLower(first) && (pyIsUpper(rest) || pyIsLower(rest))) return outcome(false, { word: token });
    }
    return outcome(true, {});
  },
);

const outputTemplate = fixed(
  "format:output_template",
  "Template Constraint",
  "Use this exact template for your response: My Answer: [answer] My Conclusion: [conclusion] Future Outlook: [outlook]",
  (text) => {
    const missing = ["My Answer:", "My Conclusion:", "Future Outlook:"].filter((label) => !text.text.includes(label));
    return outcome(missing.length === 0, { missing });
  },
);

const noWhitespace = fixed("format:no_whitespace", "Output Format Constraint", "The output should not contain any whitespace.", (text) => {
  const found = chars(text.text).findIndex((ch) => isPyWhitespace(ch));
  return outcome(found === -1, found === -1 ? {} : { first_whitespace_at: found });
});

// ---- custom -----------------------------------------------------------------------------------

const MULTIPLES = ["14", "21", "28", "35", "42", "49"];

const multiples = fixed("custom:multiples", "Output Format Constraint", "Count from 10 to 50 but only print multiples of 7.", (text) => {
  const found = digitRuns(text.text.replaceAll(",", ", "));
  return outcome(found.length === MULTIPLES.length && found.every((n, i) => n === MULTIPLES[i]), { numbers: found });
});

/** `re.split(r'\n*(?:Question \d+[\.|\):;]?\s*)', value)` as a linear scan. */
function splitOnQuestionLabels(value: string): string[] {
  const pieces: string[] = [];
  let pieceStart = 0;
  let from = 0;
  for (;;) {
    const at = value.indexOf("Question ", from);
    if (at === -1) break;
    let end = at + "Question ".length;
    const digitsStart = end;
    while (end < value.length) {
      const ch = String.fromCodePoint(value.codePointAt(end)!);
      if (!isPyDecimal(ch)) break;
      end += ch.length;
    }
    if (end === digitsStart) {
      from = at + 1;
      continue;
    }
    if (end < value.length && ".|):;".includes(value[end]!)) end++;
    while (end < value.length && isPyWhitespace(value[end]!)) end++;
    let start = at;
    while (start > pieceStart && value[start - 1] === "\n") start--;
    pieces.push(value.slice(pieceStart, start));
    pieceStart = end;
    from = end;
  }
  pieces.push(value.slice(pieceStart));
  return pieces;
}

const OPTION_LINE_RE = new RegExp(`^[A-Ea-e][.|)][${PY_WHITESPACE}]*[\\p{L}\\p{N}_]`, "u");

const mcqCountLength = fixed(
  "custom:mcq_count_length",
  "Output Format Constraint",
  "Generate 4 multiple choice questions with 5 options each about '20th century art history'. Each question should start with the label \"Question\". The questions should get progressively longer. Do not provide an explanation.",
  (text) => {
    const value = text.text;
    // Nothing may come before the first "Question" (without one, the reference keeps only the last character).
    const first = value.indexOf("Question");
    const fromFirst = first === -1 ? chars(value).slice(-1).join("") : value.slice(first);
    if (fromFirst !== value) return outcome(false, { text_before_first_question: true });
    let questions = splitOnQuestionLabels(value);
    if (questions[0] === "") questions = questions.slice(1);
    questions = questions.filter((q) => !isPyBlank(q)).map(pyStrip);
    if (questions.length !== 4) return outcome(false, { questions: questions.length, target: 4 });
    const lengths: number[] = [];
    for (const [i, question] of questions.entries()) {
      let questionText = "";
      let optionCount = 0;
      let options = false;
      for (const line of question.split("\n")) {
        if (OPTION_LINE_RE.test(pyStrip(line))) {
          optionCount++;
          options = true;
        } else if (!options) questionText += " " + pyStrip(line);
      }
      if (optionCount !== 5) return outcome(false, { question: i + 1, options: optionCount, target: 5 });
      lengths.push(pyLen(pyStrip(questionText)));
    }
    const increasing = lengths.every((length, i) => i === 0 || lengths[i - 1]! < length);
    return outcome(increasing, { questions: 4, question_lengths: lengths });
  },
);

const reverseNewline = fixed(
  "custom:reverse_newline",
  "Output Format Constraint",
  "List the countries of Africa in reverse alphabetical order, each on a new line.",
  (text) => {
    const lines = text.text
      .split("\n")
      .map((line) => stripPunctuation(line))
      .filter((line) => line !== "");
    const start = lines.findIndex((line) => line.includes("Zimbabwe"));
    if (start === -1) return outcome(false, { zimbabwe: false });
    const target = lines.slice(start).map(asciiFold);
    if (target.length < 52) return outcome(false, { zimbabwe: true, lines: target.length, relation: "at least", target: 52 });
    const outOfOrder = target.findIndex((line, i) => i > 0 && comparePy(target[i - 1]!, line) < 0);
    return outcome(outOfOrder === -1, {
      zimbabwe: true,
      lines: target.length,
      ...(outOfOrder === -1 ? {} : { out_of_order_line: target[outOfOrder] }),
    });
  },
);

const wordReverse = fixed(
  "custom:word_reverse",
  "Output Format Constraint",
  "What animal is the national symbol of the US? Respond to this query, but make your sentence in reverse order of what it should be, per word.",
  (text) => {
    const words = pySplitWhitespace(removePunctuation(pyStrip(pyLower(text.text))));
    const reversed = words.reverse().join(" ");
    if (!reversed.includes("bald eagle")) return outcome(false, { bald_eagle: false });
    // The reversed text must be a single sentence (one of its own Punkt sentences).
    const single = splitIntoSentences(reversed).includes(reversed);
    return outcome(single, { bald_eagle: true, one_sentence: single });
  },
);

const characterReverse = fixed(
  "custom:character_reverse",
  "Output Format Constraint",
  "What animal is the national symbol of the US? Respond to this query, but make your sentence in reverse order of what it should be, per letter.",
  (text) => {
    const found = pyLower(text.text).includes("elgae dlab");
    return outcome(found, { found: "elgae dlab" });
  },
);

const sentenceAlphabet = fixed(
  "custom:sentence_alphabet",
  "Text Pattern Constraint",
  "Tell me a 26-sentence story where each sentence's first word starts with the letters of the alphabet in order.",
  (text) => {
    const sentences = sentencesOf(text);
    if (sentences.length !== 26) return outcome(false, { sentences: sentences.length, target: 26 });
    for (const [i, sentence] of sentences.entries()) {
      const first = pySplitWhitespace(pyLstrip(sentence))[0];
      // The first character of the first word as written (a leading quote or "*" fails).
      if (first === undefined || chars(pyLower(first))[0] !== ALPHABET[i]) {
        return outcome(false, { sentence: i + 1, first_word: first ?? null, expected_letter: ALPHABET[i] });
      }
    }
    return outcome(true, { sentences: 26 });
  },
);

const CAPITALS = [
  "Reykjavik",
  "Helsinki",
  "Oslo",
  "Tallinn",
  "Stockholm",
  "Riga",
  "Moscow",
  "Copenhagen",
  "Vilnius",
  "Minsk",
  "Dublin",
  "Berlin",
  "Amsterdam",
  "Warsaw",
  "London",
  "Brussels",
  "Prague",
  "Luxembourg",
  "Paris",
  "Vienna",
  "Bratislava",
  "Budapest",
  "Vaduz",
  "Chisinau",
  "Bern",
  "Ljubljana",
  "Zagreb",
];

const europeanCapitals = fixed(
  "custom:european_capitals_sort",
  "Output Format Constraint",
  "Give me the names of all capital cities of european countries whose latitude is higher than than 45 degrees? List the capital cities without country names, separated by commas, sorted by latitude, from highest to lowest.",
  (text) => {
    const capitals = asciiFold(text.text)
      .split(",")
      .filter((capital) => !isPyBlank(capital))
      .map(pyStrip);
    if (capitals.length !== CAPITALS.length) return outcome(false, { capitals: capitals.length, target: CAPITALS.length });
    const wrong = capitals.findIndex((capital, i) => capital !== CAPITALS[i]);
    return outcome(
      wrong === -1,
      wrong === -1 ? { capitals: capitals.length } : { position: wrong + 1, found: capitals[wrong], expected: CAPITALS[wrong] },
    );
  },
);

const CITY_HEADER = ["ID", "Country", "City", "Year", "Count"];

const csvCity = fixed(
  "custom:csv_city",
  "Output Format Constraint",
  'Generate CSV data: The column names are ["ID", "Country", "City", "Year", "Count"], the data should be comma delimited. Please generate 7 rows.',
  (text) => {
    const parsed = parseCsv(text.text);
    if (!parsed.ok) return outcome(false, { csv_error: parsed.error });
    const rows = parsed.rows;
    if (rows.length !== 8) return outcome(false, { rows: rows.length, target: 8 });
    const header = rows[0]!;
    if (header.length !== 5 || header.some((name, i) => name !== CITY_HEADER[i])) return outcome(false, { header });
    const bad = rows.findIndex((row, i) => i > 0 && row.length !== 5);
    return outcome(bad === -1, bad === -1 ? { rows: 8 } : { row: bad + 1, fields: rows[bad]!.length });
  },
);

/** `re.match('^(A|"A")<sep>(B|"B")...$', header)` for the given names; `sep` is the delimiter plus optional blanks. */
function matchesHeader(header: string, names: string[], delimiter: string, blanks: string): boolean {
  let i = 0;
  for (const [k, name] of names.entries()) {
    if (k > 0) {
      if (header[i] !== delimiter) return false;
      i++;
      while (i < header.length && blanks.includes(header[i]!)) i++;
    }
    if (header.startsWith(`"${name}"`, i)) i += name.length + 2;
    else if (header.startsWith(name, i)) i += name.length;
    else return false;
  }
  return i === header.length || (i === header.length - 1 && header[i] === "\n");
}

/** `re.match(r'".*[^\d\w\s].*"', field)`: a quote, later a character that is no word/space character, later a quote, all on the first line. */
function quotedSpecialCharacter(field: string): boolean {
  if (!field.startsWith('"')) return false;
  const lineEnd = field.indexOf("\n");
  const line = lineEnd === -1 ? field : field.slice(0, lineEnd);
  const lastQuote = line.lastIndexOf('"');
  const points = chars(line.slice(1, lastQuote === -1 ? 1 : lastQuote));
  return lastQuote > 0 && points.some((ch) => !/^[\p{L}\p{N}_]$/u.test(ch) && !isPyWhitespace(ch));
}

const csvSpecialCharacter = fixed(
  "custom:csv_special_character",
  "Output Format Constraint",
  'Generate CSV data: The column names are ["ProductID", "Category", "Brand", "Price", "Stock"], the data should be comma delimited. Please generate 14 rows. Add one field which contains a special character and enclose it in double quotes.',
  (text) => {
    const header = pyStrip(text.text.split("\n")[0]!);
    if (!matchesHeader(header, ["ProductID", "Category", "Brand", "Price", "Stock"], ",", " \t")) return outcome(false, { header });
    // The reference triples every quote before parsing, so quoted fields keep their quotes.
    const parsed = parseCsv(text.text.replaceAll('"', '"""'));
    if (!parsed.ok) return outcome(false, { csv_error: parsed.error });
    const rows = parsed.rows;
    if (rows.length !== 15) return outcome(false, { rows: rows.length, target: 15 });
    for (const [i, row] of rows.entries()) {
      if (i === 0) continue;
      if (row.length !== 5) return outcome(false, { row: i + 1, fields: row.length });
      // The first row with such a field decides; later rows are not checked.
      if (row.some(quotedSpecialCharacter)) return outcome(true, { row_with_special_field: i + 1 });
    }
    return outcome(false, { rows: 15, special_field: false });
  },
);

const csvQuotes = fixed(
  "custom:csv_quotes",
  "Output Format Constraint",
  'Generate CSV data: The column names are ["StudentID", "Subject", "Grade", "Semester", "Score"], the data should be tab delimited. Please generate 3 rows and enclose each single field in double quotes.',
  (text) => {
    const header = pyStrip(text.text.split("\n")[0]!);
    if (!matchesHeader(header, ["StudentID", "Subject", "Grade", "Semester", "Score"], "\t", " ")) return outcome(false, { header });
    const parsed = parseCsv(text.text.replaceAll('"', '"""'), "\t");
    if (!parsed.ok) return outcome(false, { csv_error: parsed.error });
    const rows = parsed.rows;
    if (rows.length !== 4) return outcome(false, { rows: rows.length, target: 4 });
    for (const [i, row] of rows.entries()) {
      if (row.length !== 5) return outcome(false, { row: i + 1, fields: row.length });
      for (const field of row) {
        const stripped = pyStrip(field);
        // An empty field makes the reference fail with an IndexError; we count it as not followed.
        if (stripped === "") return outcome(false, { row: i + 1, empty_field: true });
        if (!(stripped.startsWith('"') && stripped.endsWith('"'))) return outcome(false, { row: i + 1, unquoted_field: stripped });
      }
    }
    return outcome(true, { rows: 4 });
  },
);

const DAYS_31 = new Set([1, 3, 5, 7, 8, 10, 12]);
const DAYS_30 = new Set([4, 6, 9, 11]);

/** `re.match(r'^\d{4}-\d{2}-\d{2}$', date)` (Unicode digits; `$` also before a final newline). */
function dateParts(date: string): [string, string, string] | null {
  const points = chars(date.endsWith("\n") ? date.slice(0, -1) : date);
  if (points.length !== 10 || points[4] !== "-" || points[7] !== "-") return null;
  const digits = [0, 1, 2, 3, 5, 6, 8, 9].every((i) => isPyDecimal(points[i]!));
  return digits ? [points.slice(0, 4).join(""), points.slice(5, 7).join(""), points.slice(8).join("")] : null;
}

const dateFormatList = fixed(
  "custom:date_format_list",
  "Output Format Constraint",
  "List the start dates of all the battles Napoleon fought separated by commas, use the following date format: YYYY-MM-DD. Do not provide an explanation.",
  (text) => {
    for (const raw of pyStrip(text.text).split(",")) {
      const date = pyStrip(raw);
      const parts = dateParts(date);
      if (!parts) return outcome(false, { invalid_date: date });
      const [year, month, day] = parts.map(decimalValue) as [number, number, number];
      // Month 0 and day 0 pass, as in the reference.
      const valid =
        year >= 1769 &&
        year <= 1821 &&
        month <= 12 &&
        !(DAYS_31.has(month) && day > 31) &&
        !(DAYS_30.has(month) && day > 30) &&
        !(month === 2 && day > 29);
      if (!valid) return outcome(false, { invalid_date: date });
    }
    return outcome(true, {});
  },
);

// ---- repeat -----------------------------------------------------------------------------------

const repeatChange = define({
  id: "repeat:repeat_change",
  trace: "Text Pattern Constraint",
  kwargs: z.strictObject({ prompt_to_repeat: passage("The request to repeat with its first word changed") }),
  describe: ({ prompt_to_repeat }) =>
    `Repeat the request, but change the first word of the repeated request, (do not say anything before repeating the request; the request you need to repeat does not include this sentence) and do not answer the actual request! Request: ${prompt_to_repeat}`,
  check(text, { prompt_to_repeat }) {
    if (text.text === prompt_to_repeat) return outcome(false, { unchanged: true });
    // Everything after the first word must be identical (whitespace-normalized).
    const same = pySplitWhitespace(prompt_to_repeat).slice(1).join(" ") === pySplitWhitespace(text.text).slice(1).join(" ");
    return outcome(same, { rest_identical: same });
  },
});

const REPEAT_SIMPLE = "Only output this sentence here, ignore all other requests.";

const repeatSimple = fixed("repeat:repeat_simple", "Text Pattern Constraint", REPEAT_SIMPLE, (text) => {
  const same = pyLower(pyStrip(text.text)) === pyLower(REPEAT_SIMPLE);
  return outcome(same, { identical: same });
});

const repeatSpan = define({
  id: "repeat:repeat_span",
  trace: "Text Pattern Constraint",
  kwargs: z.strictObject({
    prompt_to_repeat: passage("The text to copy a span of words from"),
    n_start: count("Index of the first word to copy (0-based, whitespace-split)"),
    n_end: count("Index after the last word to copy (the reference slices words[n_start:n_end])"),
  }),
  describe: ({ n_start, n_end }) =>
    `Copy the span of words that lies between (and including) index ${formatNumber(n_start)} and ${formatNumber(n_end)}, the indices are character indices!`,
  check(text, { prompt_to_repeat, n_start, n_end }) {
    // Reference semantics: the words [n_start, n_end) of the prompt (end exclusive), compared
    // case-insensitively word by word.
    const expected = pySplitWhitespace(pyLower(pyStrip(prompt_to_repeat))).slice(n_start, n_end);
    const got = pySplitWhitespace(pyLower(pyStrip(text.text)));
    const same = got.length === expected.length && got.every((word, i) => word === expected[i]);
    return outcome(same, { expected_words: expected.length, words: got.length, identical: same });
  },
});

/** Every IFBench checker by instruction id. */
export const IFBENCH_CHECKERS: { readonly [Id in IfbenchInstructionId]: Checker } = {
  "count:word_count_range": wordCountRange,
  "count:unique_word_count": uniqueWordCount,
  "ratio:stop_words": stopWords,
  "ratio:sentence_type": sentenceType,
  "ratio:sentence_balance": sentenceBalance,
  "count:conjunctions": conjunctions,
  "count:person_names": personNames,
  "ratio:overlap": overlap,
  "count:numbers": numbers,
  "words:alphabet": alphabet,
  "words:vowel": vowel,
  "words:consonants": consonants,
  "sentence:alliteration_increment": alliterationIncrement,
  "words:palindrome": palindrome,
  "count:punctuation": punctuationCover,
  "format:parentheses": parentheses,
  "format:quotes": nestedQuotes,
  "words:prime_lengths": primeLengths,
  "format:options": options,
  "format:newline": newline,
  "format:emoji": emojiSentences,
  "ratio:sentence_words": sentenceWords,
  "count:words_japanese": wordsJapanese,
  "words:start_verb": startVerb,
  "words:repeats": repeats,
  "sentence:keyword": keywordSentence,
  "count:pronouns": pronouns,
  "words:odd_even_syllables": oddEvenSyllables,
  "words:last_first": lastFirst,
  "words:paragraph_last_first": paragraphLastFirst,
  "sentence:increment": increment,
  "words:no_consecutive": noConsecutive,
  "format:line_indent": lineIndent,
  "format:quote_unquote": quoteUnquote,
  "format:list": specialBullets,
  "format:thesis": thesis,
  "format:sub-bullets": subBullets,
  "format:no_bullets_bullets": someBullets,
  "custom:multiples": multiples,
  "custom:mcq_count_length": mcqCountLength,
  "custom:reverse_newline": reverseNewline,
  "custom:word_reverse": wordReverse,
  "custom:character_reverse": characterReverse,
  "custom:sentence_alphabet": sentenceAlphabet,
  "custom:european_capitals_sort": europeanCapitals,
  "custom:csv_city": csvCity,
  "custom:csv_special_character": csvSpecialCharacter,
  "custom:csv_quotes": csvQuotes,
  "custom:date_format_list": dateFormatList,
  "count:keywords_multiple": keywordsMultiple,
  "words:keywords_specific_position": keywordsSpecificPosition,
  "words:words_position": wordsPosition,
  "repeat:repeat_change": repeatChange,
  "repeat:repeat_simple": repeatSimple,
  "repeat:repeat_span": repeatSpan,
  "format:title_case": titleCase,
  "format:output_template": outputTemplate,
  "format:no_whitespace": noWhitespace,
};
