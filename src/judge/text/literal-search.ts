/**
 * Literal (never regex) search for user-supplied keywords, in linear time.
 *
 * The reference passes keywords to `re.search(keyword, text, re.IGNORECASE)`, i.e. as regular
 * expressions. We treat them as literal text (project policy: no regex injection, and identical
 * verdicts on the benchmark), and search with Knuth-Morris-Pratt over code points so that no
 * keyword/text pair can take more than O(len(text) + len(keyword)) steps.
 *
 * Case-insensitive equality follows Python's `re.IGNORECASE` for Unicode patterns: two characters
 * match when their simple lowercase forms are equal, or when they belong to one of the groups of
 * characters that share an uppercase form (i/ı, s/ſ, σ/ς, ...), which Python's regex compiler adds.
 */
import { codePoints, isPyWordChar } from "./python-str.ts";

/** Lowercase forms that Python's regex engine treats as equal under IGNORECASE (sre `_ignorecase_fixes`). */
const IGNORECASE_EQUIVALENTS: ReadonlyArray<readonly number[]> = [
  [0x69, 0x131], // i ı
  [0x73, 0x17f], // s ſ
  [0xb5, 0x3bc], // µ μ
  [0x345, 0x3b9, 0x1fbe], // ͅ ι ι
  [0x390, 0x1fd3], // ΐ ΐ
  [0x3b0, 0x1fe3], // ΰ ΰ
  [0x3b2, 0x3d0], // β ϐ
  [0x3b5, 0x3f5], // ε ϵ
  [0x3b8, 0x3d1], // θ ϑ
  [0x3ba, 0x3f0], // κ ϰ
  [0x3c0, 0x3d6], // π ϖ
  [0x3c1, 0x3f1], // ρ ϱ
  [0x3c2, 0x3c3], // ς σ
  [0x3c6, 0x3d5], // φ ϕ
  [0x1e61, 0x1e9b], // ṡ ẛ
  [0xfb05, 0xfb06], // ﬅ ﬆ
];
const CANONICAL = new Map<number, number>();
for (const group of IGNORECASE_EQUIVALENTS) for (const cp of group) CANONICAL.set(cp, group[0]!);
/** The characters that fold to another member of their group (all in the BMP). */
const NON_CANONICAL_RE = new RegExp(
  `[${[...CANONICAL]
    .filter(([cp, canonical]) => cp !== canonical)
    .map(([cp]) => `\\u${cp.toString(16).padStart(4, "0")}`)
    .join("")}]`,
  "g",
);

/**
 * `s` case-folded the way Python's IGNORECASE compares characters, as a string with one code
 * point per code point of `s` (native string search then works on it, see `containsIgnoreCase`).
 */
export function foldCase(s: string): string {
  // U+0130 is the only character whose JavaScript lowercase is longer than one code point; its
  // simple lowercase (what Python's regex engine uses) is "i".
  const lowered = (s.includes("\u0130") ? s.replace(/\u0130/g, "i") : s).toLowerCase();
  return lowered.replace(NON_CANONICAL_RE, (ch) => String.fromCharCode(CANONICAL.get(ch.charCodeAt(0))!));
}

/**
 * Code points of `s`, case-folded the way Python's IGNORECASE compares them. The result has one
 * entry per code point of `s`, so indices map back to the original text.
 */
export function foldCaseCodePoints(s: string): Uint32Array {
  return codePoints(foldCase(s));
}

const SURROGATE_RE = /[\ud800-\udfff]/;

/** Whether `s` has a UTF-16 surrogate (a string search could then match half a code point). */
function hasSurrogate(s: string): boolean {
  return SURROGATE_RE.test(s);
}

/** KMP failure function. */
function failureTable(needle: Uint32Array): Int32Array {
  const fail = new Int32Array(needle.length);
  let k = 0;
  for (let i = 1; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = fail[k - 1]!;
    if (needle[i] === needle[k]) k++;
    fail[i] = k;
  }
  return fail;
}

/**
 * Start indices (in code points) of occurrences of `needle` in `haystack`, left to right.
 * `overlapping: false` gives the non-overlapping matches `re.findall` would count.
 * An empty needle matches at every position 0..len, as an empty regex does.
 */
export function findOccurrences(haystack: Uint32Array, needle: Uint32Array, overlapping: boolean): number[] {
  const found: number[] = [];
  if (needle.length === 0) {
    for (let i = 0; i <= haystack.length; i++) found.push(i);
    return found;
  }
  const fail = failureTable(needle);
  let k = 0;
  for (let i = 0; i < haystack.length; i++) {
    while (k > 0 && haystack[i] !== needle[k]) k = fail[k - 1]!;
    if (haystack[i] === needle[k]) k++;
    if (k === needle.length) {
      found.push(i - needle.length + 1);
      k = overlapping ? fail[k - 1]! : 0;
    }
  }
  return found;
}

/**
 * Case-insensitive literal containment (the reference's `re.search(keyword, text, re.I)`), in
 * `folded`, the text after `foldCase`. A keyword without surrogates can only match whole code
 * points, so the engine's own string search (linear here) gives the code-point answer; others go
 * through Knuth-Morris-Pratt over code points.
 */
export function containsIgnoreCase(folded: string, keyword: string): boolean {
  const needle = foldCase(keyword);
  if (!hasSurrogate(needle)) return folded.includes(needle);
  return findFirst(codePoints(folded), codePoints(needle)) >= 0;
}

function findFirst(haystack: Uint32Array, needle: Uint32Array): number {
  const fail = failureTable(needle);
  let k = 0;
  for (let i = 0; i < haystack.length; i++) {
    while (k > 0 && haystack[i] !== needle[k]) k = fail[k - 1]!;
    if (haystack[i] === needle[k]) k++;
    if (k === needle.length) return i - needle.length + 1;
  }
  return -1;
}

/**
 * Number of non-overlapping case-insensitive occurrences (the reference's `len(re.findall(...))`)
 * in `folded`, the text after `foldCase`; string search as in `containsIgnoreCase`.
 */
export function countIgnoreCase(folded: string, keyword: string): number {
  const needle = foldCase(keyword);
  if (needle.length === 0 || hasSurrogate(needle)) return findOccurrences(codePoints(folded), codePoints(needle), false).length;
  let count = 0;
  for (let at = folded.indexOf(needle); at >= 0; at = folded.indexOf(needle, at + needle.length)) count++;
  return count;
}

function isWordCodePoint(cp: number | undefined): boolean {
  return cp !== undefined && isPyWordChar(String.fromCodePoint(cp));
}

/**
 * Whether `word` occurs case-insensitively with a word boundary on both sides, as the reference's
 * `re.search(r"\b" + word + r"\b", text, re.IGNORECASE)` does with Python's Unicode `\b`
 * (a boundary is any position where "is a word character" changes, the text ends counting as
 * non-word). Occurrences are tried left to right, overlapping, like a regex search.
 *
 * `folded` is `foldCase(text)`. When neither the text, its folding nor the (non-empty) word has
 * a surrogate, code units are code points and the engine's string search finds the occurrences;
 * otherwise they are found over code points.
 */
export function containsWordIgnoreCase(text: string, folded: string, word: string): boolean {
  const needle = foldCase(word);
  if (needle.length > 0 && folded.length === text.length && !hasSurrogate(needle) && !hasSurrogate(text)) {
    const boundaryAt = (i: number): boolean => isWordUnit(text, i - 1) !== isWordUnit(text, i);
    for (let at = folded.indexOf(needle); at >= 0; at = folded.indexOf(needle, at + 1)) {
      if (boundaryAt(at) && boundaryAt(at + needle.length)) return true;
    }
    return false;
  }
  const original = codePoints(text);
  const needlePoints = codePoints(needle);
  const boundaryAt = (i: number): boolean => isWordCodePoint(original[i - 1]) !== isWordCodePoint(original[i]);
  for (const start of findOccurrences(codePoints(folded), needlePoints, true)) {
    if (boundaryAt(start) && boundaryAt(start + needlePoints.length)) return true;
  }
  return false;
}

/** `\w` for the code unit at `i` of a text without surrogates (false outside the text). */
function isWordUnit(text: string, i: number): boolean {
  return i >= 0 && i < text.length && isPyWordChar(text[i]!);
}

// ---- where matches are: evidence spans -----------------------------------------------------------

/** A match in the checked text: [start, end) in UTF-16 code units, as a browser's string indexes it. */
export type Span = [start: number, end: number];
/** Evidence lists at most this many spans (a checker's verdict never depends on them). */
export const MAX_EVIDENCE_SPANS = 100;

/** UTF-16 offset of each code point index of `text` (and of its end). */
export function unitOffsets(text: string, points: Uint32Array): (cp: number) => number {
  if (points.length === text.length) return (cp) => cp;
  const offsets = new Uint32Array(points.length + 1);
  for (let i = 0, unit = 0; i < points.length; i++) {
    offsets[i] = unit;
    unit += points[i]! > 0xffff ? 2 : 1;
  }
  offsets[points.length] = text.length;
  return (cp) => offsets[cp]!;
}

/**
 * Where `keyword` occurs case-insensitively in `text` (`folded` is `foldCase(text)`), as spans:
 * the occurrences `countIgnoreCase` counts (non-overlapping), or with `wholeWord` those
 * `containsWordIgnoreCase` accepts. At most MAX_EVIDENCE_SPANS, left to right.
 */
export function keywordSpans(text: string, folded: string, keyword: string, wholeWord = false): Span[] {
  const folding = foldCase(keyword);
  if (folding.length === 0) return [];
  if (folded.length === text.length && !hasSurrogate(folding) && !hasSurrogate(text)) {
    // code units are code points: the engine's string search, stopping at the cap
    const spans: Span[] = [];
    const boundaryAt = (i: number): boolean => isWordUnit(text, i - 1) !== isWordUnit(text, i);
    for (let at = folded.indexOf(folding); at >= 0 && spans.length < MAX_EVIDENCE_SPANS; ) {
      const end = at + folding.length;
      if (!wholeWord || (boundaryAt(at) && boundaryAt(end))) spans.push([at, end]);
      at = folded.indexOf(folding, wholeWord ? at + 1 : end);
    }
    return spans;
  }
  const needle = codePoints(folding);
  const original = codePoints(text);
  const toUnit = unitOffsets(text, original);
  const boundaryAt = (i: number): boolean => isWordCodePoint(original[i - 1]) !== isWordCodePoint(original[i]);
  const spans: Span[] = [];
  for (const start of findOccurrences(codePoints(folded), needle, wholeWord)) {
    if (wholeWord && !(boundaryAt(start) && boundaryAt(start + needle.length))) continue;
    spans.push([toUnit(start), toUnit(start + needle.length)]);
    if (spans.length === MAX_EVIDENCE_SPANS) break;
  }
  return spans;
}

/** Spans sorted by start, then capped at MAX_EVIDENCE_SPANS (several keywords' spans merged). */
export const sortedSpans = (spans: Span[]): Span[] => spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, MAX_EVIDENCE_SPANS);
