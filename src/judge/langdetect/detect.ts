/**
 * Language identification exactly as Python's `langdetect` 1.0.9 does it with `DetectorFactory.seed = 0`
 * (the setting under which the IFEval reference verdicts were produced), so our verdicts for
 * `language:response_language`, `change_case:english_capital` and `change_case:english_lowercase`
 * agree with it.
 *
 * Algorithm (naive Bayes over character 1-3-grams, Nakatani 2010):
 * 1. Replace URLs and e-mail addresses by spaces, fold Vietnamese base letter + combining mark
 *    into the precomposed letter, keep the first 10,000 characters, collapse double spaces.
 * 2. If non-Latin characters dominate, drop the ASCII letters (stray Latin words).
 * 3. Normalise characters (punctuation to space, kana/hangul/CJK classes to representatives) and
 *    collect every 1-, 2- and 3-gram that some language profile knows, skipping all-capital words.
 * 4. Seven trials, each with a smoothing constant drawn from a Gaussian: starting from uniform
 *    probabilities, repeatedly draw a random n-gram and multiply each language's probability by
 *    that n-gram's frequency in the language; stop when one language exceeds 0.99999 or after
 *    1,000 draws. Average the trials; report the most probable language above 0.1.
 * The random draws use CPython's Mersenne Twister (see python-random.ts) seeded with 0 for each
 * text, which makes the result a deterministic function of the text.
 */
import profileData from "../data/langdetect-profiles.json" with { type: "json" };
import { pyIsUpper } from "../text/python-str.ts";
import { PythonRandom } from "./python-random.ts";

const SEED = 0;
const N_TRIAL = 7;
const ALPHA = 0.5;
const ALPHA_WIDTH = 0.05;
const ITERATION_LIMIT = 1000;
const PROB_THRESHOLD = 0.1;
const CONV_THRESHOLD = 0.99999;
const BASE_FREQ = 10000;
const MAX_TEXT_LENGTH = 10000;

const URL_RE = /https?:\/\/[-_.?&~;+=/#0-9A-Za-z]{1,2076}/g;
const MAIL_RE = /[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}/g;

/** The n-gram frequency tables of the 55 language profiles, in sparse form. */
interface Profiles {
  langs: readonly string[];
  /** n-gram -> row; row r's entries are entryLang/entryProb[rowStart[r] .. rowStart[r+1]). */
  rows: Map<string, number>;
  rowStart: Uint32Array;
  entryLang: Uint8Array;
  entryProb: Float64Array;
  cjkRepresentative: Map<string, string>;
  viNormalizeRe: RegExp;
}

let profiles: Profiles | undefined;

/** Value of a base-36 digit given as a UTF-16 code unit. */
function base36Digit(unit: number): number {
  return unit <= 0x39 ? unit - 0x30 : unit - 0x57;
}

/**
 * Decodes the bundled profiles on first use: one pass over "gram\tlang.count lang.count\n..."
 * (numbers in base 36; grams never contain ".", tabs or newlines).
 */
function loadProfiles(): Profiles {
  if (profiles) return profiles;
  const data = profileData.grams;
  let rowCount = 1;
  let entryCount = 0;
  for (let i = 0; i < data.length; i++) {
    const unit = data.charCodeAt(i);
    if (unit === 0x0a) rowCount++;
    else if (unit === 0x2e) entryCount++;
  }
  const rows = new Map<string, number>();
  const rowStart = new Uint32Array(rowCount + 1);
  const entryLang = new Uint8Array(entryCount);
  const entryProb = new Float64Array(entryCount);
  let pos = 0;
  let e = 0;
  for (let row = 0; row < rowCount; row++) {
    const tab = data.indexOf("\t", pos);
    const gram = data.slice(pos, tab);
    rows.set(gram, row);
    rowStart[row] = e;
    let gramLength = 0; // in code points
    for (let i = 0; i < gram.length; i++) {
      const unit = gram.charCodeAt(i);
      if (unit < 0xdc00 || unit > 0xdfff) gramLength++;
    }
    pos = tab + 1;
    for (;;) {
      let lang = 0;
      let unit: number;
      while ((unit = data.charCodeAt(pos++)) !== 0x2e) lang = lang * 36 + base36Digit(unit);
      let count = 0;
      while (pos < data.length && (unit = data.charCodeAt(pos)) !== 0x20 && unit !== 0x0a) {
        count = count * 36 + base36Digit(unit);
        pos++;
      }
      entryLang[e] = lang;
      // Same division as langdetect, so the probabilities are bit-identical.
      entryProb[e] = count / profileData.nWords[lang]![gramLength - 1]!;
      e++;
      if (pos >= data.length || data.charCodeAt(pos++) === 0x0a) break;
    }
  }
  rowStart[rowCount] = e;

  const cjkRepresentative = new Map<string, string>();
  for (const cls of profileData.cjkClasses) {
    const chars = [...cls];
    for (const ch of chars) cjkRepresentative.set(ch, chars[0]!);
  }
  const viNormalizeRe = new RegExp(`([${profileData.toNormalizeViChars}])([${profileData.dmarkClass}])`, "gu");
  profiles = { langs: profileData.langs, rows, rowStart, entryLang, entryProb, cjkRepresentative, viNormalizeRe };
  return profiles;
}

/** langdetect's `NGram.normalize_vi`: base letter + combining mark -> precomposed Vietnamese letter. */
function normalizeVietnamese(text: string, p: Profiles): string {
  return text.replace(p.viNormalizeRe, (_, letter: string, mark: string) => {
    const markIndex = profileData.dmarkClass.indexOf(mark);
    const letterIndex = profileData.toNormalizeViChars.indexOf(letter);
    return [...profileData.normalizedViChars[markIndex]!][letterIndex]!;
  });
}

/** langdetect's `NGram.normalize`, by Unicode block. */
function normalizeChar(ch: string, p: Profiles): string {
  const cp = ch.codePointAt(0)!;
  if (cp <= 0x7f) {
    // Basic Latin: only letters survive.
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? ch : " ";
  }
  if (cp <= 0xff) return profileData.latin1Excluded.includes(ch) ? " " : ch;
  if (cp >= 0x180 && cp <= 0x24f) {
    // Latin Extended-B: Romanian comma-below letters -> cedilla forms.
    if (cp === 0x219) return "\u015f";
    if (cp === 0x21b) return "\u0163";
    return ch;
  }
  if (cp >= 0x2000 && cp <= 0x206f) return " "; // General Punctuation
  if (cp >= 0x600 && cp <= 0x6ff) return cp === 0x6cc ? "\u064a" : ch; // Farsi yeh -> Arabic yeh
  if (cp >= 0x1e00 && cp <= 0x1eff) return cp >= 0x1ea0 ? "\u1ec3" : ch; // Latin Extended Additional
  if (cp >= 0x3040 && cp <= 0x309f) return "\u3042"; // Hiragana
  if (cp >= 0x30a0 && cp <= 0x30ff) return "\u30a2"; // Katakana
  if ((cp >= 0x3100 && cp <= 0x312f) || (cp >= 0x31a0 && cp <= 0x31bf)) return "\u3105"; // Bopomofo
  if (cp >= 0x4e00 && cp <= 0x9fff) return p.cjkRepresentative.get(ch) ?? ch; // CJK Unified Ideographs
  if (cp >= 0xac00 && cp <= 0xd7af) return "\uac00"; // Hangul Syllables
  return ch;
}

/** Steps 1-2: the characters langdetect actually looks at. */
function prepareText(text: string, p: Profiles): string[] {
  const cleaned = normalizeVietnamese(text.replace(URL_RE, " ").replace(MAIL_RE, " "), p);
  const chars: string[] = [];
  let previous = "";
  let taken = 0;
  for (const ch of cleaned) {
    if (taken++ >= MAX_TEXT_LENGTH) break;
    if (ch !== " " || previous !== " ") chars.push(ch);
    previous = ch;
  }
  let latin = 0;
  let nonLatin = 0;
  for (const ch of chars) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x41 && cp <= 0x7a) latin++;
    // langdetect 1.0.9 means to exempt Latin Extended Additional here, but compares a block id with
    // a block name, so every character from U+0300 up counts as non-Latin.
    else if (cp >= 0x300) nonLatin++;
  }
  if (latin * 2 < nonLatin) {
    return chars.filter((ch) => {
      const cp = ch.codePointAt(0)!;
      return cp < 0x41 || cp > 0x7a;
    });
  }
  return chars;
}

/** Step 3: the known n-grams of the text, in order (duplicates kept: they weight the draws). */
function extractNgrams(chars: readonly string[], p: Profiles): number[] {
  const found: number[] = [];
  let grams = [" "];
  let capitalWord = false;
  for (const raw of chars) {
    const ch = normalizeChar(raw, p);
    const last = grams[grams.length - 1]!;
    if (last === " ") {
      grams = [" "];
      capitalWord = false;
      if (ch === " ") continue;
    } else if (grams.length >= 3) {
      grams = grams.slice(1);
    }
    grams.push(ch);
    if (pyIsUpper(ch)) {
      if (pyIsUpper(last)) capitalWord = true;
    } else {
      capitalWord = false;
    }
    if (capitalWord) continue;
    for (let n = 1; n <= 3 && n <= grams.length; n++) {
      const gram = grams.slice(grams.length - n).join("");
      if (gram === " ") continue;
      const row = p.rows.get(gram);
      if (row !== undefined) found.push(row);
    }
  }
  return found;
}

export interface LanguageScore {
  lang: string;
  prob: number;
}

export type LanguageDetection =
  /** `language` is "unknown" when no language scored above 0.1, as langdetect reports it. */
  | { ok: true; language: string; scores: LanguageScore[] }
  /** langdetect raises "No features in text" (no letters it knows); IFEval counts that as a pass. */
  | { ok: false; error: "no features in text" };

/** `langdetect.detect(text)` with seed 0. Deterministic: the same text always gives the same answer. */
export function detectLanguage(text: string): LanguageDetection {
  const p = loadProfiles();
  const ngrams = extractNgrams(prepareText(text, p), p);
  if (ngrams.length === 0) return { ok: false, error: "no features in text" };

  const langCount = p.langs.length;
  const langProb = new Float64Array(langCount);
  const rng = new PythonRandom(SEED);
  const prob = new Float64Array(langCount);
  for (let trial = 0; trial < N_TRIAL; trial++) {
    prob.fill(1 / langCount);
    const alpha = ALPHA + rng.gauss(0, 1) * ALPHA_WIDTH;
    const weight = alpha / BASE_FREQ;
    for (let i = 0; ; i++) {
      const row = rng.choice(ngrams);
      // prob[l] *= weight + P(gram | l); P is zero for languages that lack the n-gram.
      const start = p.rowStart[row]!;
      const end = p.rowStart[row + 1]!;
      let entry = start;
      for (let l = 0; l < langCount; l++) {
        if (entry < end && p.entryLang[entry] === l) {
          prob[l] = prob[l]! * (weight + p.entryProb[entry]!);
          entry++;
        } else {
          prob[l] = prob[l]! * weight;
        }
      }
      if (i % 5 === 0 && (normalize(prob) > CONV_THRESHOLD || i >= ITERATION_LIMIT)) break;
    }
    for (let l = 0; l < langCount; l++) langProb[l] = langProb[l]! + prob[l]! / N_TRIAL;
  }

  const scores: LanguageScore[] = [];
  for (let l = 0; l < langCount; l++) if (langProb[l]! > PROB_THRESHOLD) scores.push({ lang: p.langs[l]!, prob: langProb[l]! });
  scores.sort((a, b) => b.prob - a.prob); // stable, like Python's sort(reverse=True)
  return { ok: true, language: scores[0]?.lang ?? "unknown", scores };
}

/** Scales to a sum of 1 and returns the largest probability. */
function normalize(prob: Float64Array): number {
  let sum = 0;
  for (let l = 0; l < prob.length; l++) sum += prob[l]!;
  let max = 0;
  for (let l = 0; l < prob.length; l++) {
    const scaled = prob[l]! / sum;
    if (max < scaled) max = scaled;
    prob[l] = scaled;
  }
  return max;
}
