/**
 * The Python string operations IFBench's reference checkers are built from, on code points:
 * `string.punctuation`, `str.translate` removing it, `str.strip(chars)`, `isalpha()`/`isdigit()`,
 * `re`'s Unicode `\b`, `\d`, `\w`, `\s`, and `unicodedata.normalize("NFKD")` + ASCII encoding.
 * Everything here is a linear scan (no regex that could backtrack).
 */
import { codePoints, isPyWordChar, pyStripChars } from "../text/python-str.ts";
import { findOccurrences, foldCaseCodePoints } from "../text/literal-search.ts";

/** Python's `string.punctuation`. */
export const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const PUNCTUATION_RE = /[!-/:-@[-`{-~]/g;

/** `s.translate(str.maketrans('', '', string.punctuation))`. */
export function removePunctuation(s: string): string {
  return s.replace(PUNCTUATION_RE, "");
}

/** `s.strip(string.punctuation + ' ')` (or lstrip/rstrip). */
export function stripPunctuation(s: string, side: "both" | "left" | "right" = "both"): string {
  return pyStripChars(s, PUNCTUATION + " ", side);
}

/** The code points of `s` as one-character strings (Python's indexing unit). */
export function chars(s: string): string[] {
  return Array.from(s);
}

const ALPHA_RE = /^\p{L}+$/u;
const DIGIT_RE =
  /^[\p{Nd}\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24f5-\u24fd\u24ea\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\u{1f100}-\u{1f10a}]+$/u;
const DECIMAL_RE = /\p{Nd}/u;

/** Python `s.isalpha()`. */
export function pyIsAlpha(s: string): boolean {
  return ALPHA_RE.test(s);
}

/** Python `s.isdigit()` (decimal digits plus the superscript, subscript and circled digits). */
export function pyIsDigit(s: string): boolean {
  return DIGIT_RE.test(s);
}

/** Python `re` `\d` for one code point. */
export function isPyDecimal(ch: string): boolean {
  return DECIMAL_RE.test(ch);
}

/** `re.findall(r'\d+', s)`: maximal runs of Unicode decimal digits. */
export function digitRuns(s: string): string[] {
  const runs: string[] = [];
  let current = "";
  for (const ch of s) {
    if (isPyDecimal(ch)) current += ch;
    else if (current !== "") {
      runs.push(current);
      current = "";
    }
  }
  if (current !== "") runs.push(current);
  return runs;
}

/** The value of a string of Unicode decimal digits (Python's `int()` on it). */
export function decimalValue(digits: string): number {
  let value = 0;
  for (const ch of digits) {
    const cp = ch.codePointAt(0)!;
    // Decimal digits come in runs of ten starting at zero (some blocks hold several runs).
    let start = cp;
    while (start > 0 && isPyDecimal(String.fromCodePoint(start - 1))) start--;
    value = value * 10 + ((cp - start) % 10);
  }
  return value;
}

/** Python `str.count(sub)`: non-overlapping occurrences (an empty `sub` counts len + 1). */
export function countSubstring(s: string, sub: string): number {
  return findOccurrences(codePoints(s), codePoints(sub), false).length;
}

function isWordAt(points: Uint32Array, i: number): boolean {
  return i >= 0 && i < points.length && isPyWordChar(String.fromCodePoint(points[i]!));
}

/**
 * Non-overlapping matches of the regex `\b<literal>\b` in `text` (as `re.findall` counts them),
 * optionally with `re.IGNORECASE`. `\b` is Python's Unicode word boundary: a position where
 * "is a word character" changes, the ends of the text counting as non-word.
 */
export function countWordMatches(text: string, literal: string, ignoreCase: boolean): number {
  const original = codePoints(text);
  const haystack = ignoreCase ? foldCaseCodePoints(text) : original;
  const needle = ignoreCase ? foldCaseCodePoints(literal) : codePoints(literal);
  const boundary = (i: number) => isWordAt(original, i - 1) !== isWordAt(original, i);
  let count = 0;
  let nextFree = 0;
  if (needle.length === 0) {
    for (let i = 0; i <= original.length; i++) if (boundary(i)) count++;
    return count;
  }
  for (const start of findOccurrences(haystack, needle, true)) {
    if (start < nextFree) continue;
    if (boundary(start) && boundary(start + needle.length)) {
      count++;
      nextFree = start + needle.length;
    }
  }
  return count;
}

/** `unicodedata.normalize('NFKD', s).encode('ASCII', 'ignore').decode('ASCII')`. */
export function asciiFold(s: string): string {
  return s.normalize("NFKD").replace(/[^\x00-\x7f]/gu, "");
}

/** Python's `sorted()` order on strings: by code point. */
export function comparePy(a: string, b: string): number {
  const x = codePoints(a);
  const y = codePoints(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Python's `str(n)` for an int-valued kwarg that IFBench data stores as a float (`3.0` renders "3"). */
export function formatNumber(n: number): string {
  return String(n);
}
