/**
 * `syllapy.count(word)` (syllapy 0.7, MIT), which IFBench's `words:odd_even_syllables` calls: strip
 * whitespace, lower-case, strip `string.punctuation`; an empty word counts 0, a word containing a
 * digit counts 0; a word in syllapy's dictionary of ~5,700 common words counts as listed there,
 * any other word by syllapy's vowel-group rule (below). Words of `SYLLAPY_DICTIONARY` (empty
 * unless filled in) are looked up first; without syllapy's list every word takes the rule, which
 * can differ from syllapy on common words (e.g. "every": rule 3, dictionary 2). See README.md.
 */
import { pyLower, pyStrip } from "../text/python-str.ts";
import { chars, stripPunctuation } from "./py.ts";

/** Dictionary counts, "word:count" separated by spaces. */
const SYLLAPY_DICTIONARY = "";

const DIGIT_RE = /\p{Nd}/u;
const VOWELS = "aeiouy";

/** syllapy's fallback: one syllable per group of vowels (y included), a final "e" silent unless "-le" after a consonant. */
export function heuristicSyllables(word: string): number {
  const letters = chars(word);
  let count = VOWELS.includes(letters[0]!) ? 1 : 0;
  for (let i = 1; i < letters.length; i++) {
    if (VOWELS.includes(letters[i]!) && !VOWELS.includes(letters[i - 1]!)) count++;
  }
  if (word.endsWith("e")) count--;
  if (word.endsWith("le") && letters.length > 2 && !VOWELS.includes(letters.at(-3)!)) count++;
  return count === 0 ? 1 : count;
}

let dictionary: Map<string, number> | undefined;

function lookUp(word: string): number | undefined {
  if (!dictionary) {
    dictionary = new Map();
    for (const entry of SYLLAPY_DICTIONARY.split(" ")) {
      if (entry === "") continue;
      const colon = entry.lastIndexOf(":");
      dictionary.set(entry.slice(0, colon), Number(entry.slice(colon + 1)));
    }
  }
  return dictionary.get(word);
}

export function countSyllables(word: string): number {
  const normalized = stripPunctuation(pyLower(pyStrip(word)));
  if (normalized === "") return 0;
  if (DIGIT_RE.test(normalized)) return 0;
  return lookUp(normalized) ?? heuristicSyllables(normalized);
}
