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
import { SeededReplay } from "./python-random.ts";

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

/**
 * The bundled profiles (built by scripts/build-judge-data.ts), read in place: the tables are
 * strings of fixed-width base64url numbers (6 bits a digit), so a fresh isolate decodes nothing
 * up front and a detection reads only the numbers it needs. The n-grams form a trie:
 *
 * - nodes `1..alphabet.length` are the 1-grams (`alphabet[node - 1]`), then come `bigramNodes`
 *   2-grams, then the 3-grams; within a level nodes are sorted by (parent node, last letter), so
 *   the children of node p are `alphabet.length + 1 + i` for i in [childStart(p), childStart(p + 1));
 * - `childStart`: 3 digits per node (and one more for the end); `childLetters`: 2 digits per
 *   child, the 1-based position of its last character in `alphabet`;
 * - `entryStart`: 3 digits per node (and one more), where its counts begin in `entries`;
 * - `entries`: per count, 1 digit language (index in `langs`) and 5 digits count, languages
 *   ascending within a node.
 *
 * Probabilities are `count / n_words[lang][n - 1]`, divided as langdetect does, so they are
 * bit-identical to Python's.
 */
interface ProfileTable {
  langs: readonly string[];
  /** Code unit -> 1-based alphabet position (0: no n-gram has this character). */
  letterOf: Uint16Array;
  cjkRepresentative: Map<number, number>;
  viNormalizeRe: RegExp;
  latin1Excluded: Set<number>;
}

let profiles: ProfileTable | undefined;

const ALPHABET_SIZE = profileData.alphabet.length;
const FIRST_TRIGRAM_NODE = ALPHABET_SIZE + profileData.bigramNodes + 1;
const { childStart, childLetters, entryStart, entries } = profileData;

/** Value of each base64url digit, by code unit. */
const DIGIT = new Uint8Array(128);
for (let i = 0; i < 64; i++) DIGIT["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;

function digits2(s: string, at: number): number {
  return (DIGIT[s.charCodeAt(at)]! << 6) | DIGIT[s.charCodeAt(at + 1)]!;
}

function digits3(s: string, at: number): number {
  return (DIGIT[s.charCodeAt(at)]! << 12) | (DIGIT[s.charCodeAt(at + 1)]! << 6) | DIGIT[s.charCodeAt(at + 2)]!;
}

/** The first entry of `node` (1-based); `firstEntry(node + 1)` ends it. */
function firstEntry(node: number): number {
  return digits3(entryStart, (node - 1) * 3);
}

/** The small tables, built on first use (a few thousand entries). */
function loadProfiles(): ProfileTable {
  if (profiles) return profiles;
  const letterOf = new Uint16Array(0x10000);
  for (let i = 0; i < ALPHABET_SIZE; i++) letterOf[profileData.alphabet.charCodeAt(i)] = i + 1;
  const cjkRepresentative = new Map<number, number>();
  for (const cls of profileData.cjkClasses) {
    for (let i = 0; i < cls.length; i++) cjkRepresentative.set(cls.charCodeAt(i), cls.charCodeAt(0));
  }
  profiles = {
    langs: profileData.langs,
    letterOf,
    cjkRepresentative,
    viNormalizeRe: new RegExp(`([${profileData.toNormalizeViChars}])([${profileData.dmarkClass}])`, "gu"),
    latin1Excluded: new Set([...profileData.latin1Excluded].map((ch) => ch.charCodeAt(0))),
  };
  return profiles;
}

/**
 * Child lookups already made, direct-mapped by (parent, letter): extraction asks for the 2- and
 * 3-gram extending the window at every character, and a hit here skips the binary search over
 * base64 digits. Slot s holds a pair's key at `2s` (0 when empty) and its node + 1 at `2s + 1`
 * (1 for none), side by side so a lookup touches one cache line; a colliding pair simply takes
 * the slot over, so the table stays 256 KB. The 2-grams of the first 255 letters (Latin script
 * and more), the commonest lookups, have a direct table (`bigrams`, node + 1, 0 until looked up).
 */
const CHILD_SLOT_BITS = 15;
let childSlots: Int32Array | undefined;
let bigrams: Int32Array | undefined;

/** The trie node for `parent`'s n-gram extended by `letter`, or 0. */
function child(parent: number, letter: number): number {
  if (parent === 0 || letter === 0) return 0;
  if (parent < 256 && letter < 256) {
    bigrams ??= new Int32Array(256 * 256);
    const cell = (parent << 8) | letter;
    let known = bigrams[cell]!;
    if (known === 0) bigrams[cell] = known = searchChild(parent, letter) + 1;
    return known - 1;
  }
  childSlots ??= new Int32Array(2 << CHILD_SLOT_BITS);
  const key = parent * (ALPHABET_SIZE + 1) + letter; // below 2**31: 87,680 nodes x 3,161 letters
  const at = (Math.imul(key, 0x9e3779b1) >>> (32 - CHILD_SLOT_BITS)) << 1; // Fibonacci hashing
  if (childSlots[at] === key) return childSlots[at + 1]! - 1;
  const node = searchChild(parent, letter);
  childSlots[at] = key;
  childSlots[at + 1] = node + 1;
  return node;
}

function searchChild(parent: number, letter: number): number {
  let lo = digits3(childStart, (parent - 1) * 3);
  let hi = digits3(childStart, parent * 3);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const found = digits2(childLetters, mid * 2);
    if (found === letter) return ALPHABET_SIZE + 1 + mid;
    if (found < letter) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

/** Per node, once known: 1 if some profile counts its n-gram, 2 if none (extraction asks often). */
let nodeHasEntries: Uint8Array | undefined;

function hasEntries(node: number): boolean {
  nodeHasEntries ??= new Uint8Array(profileData.nodeCount + 2);
  let known = nodeHasEntries[node]!;
  if (known === 0) nodeHasEntries[node] = known = firstEntry(node + 1) > firstEntry(node) ? 1 : 2;
  return known === 1;
}

/** n-gram length of a node. */
function gramLength(node: number): number {
  return node <= ALPHABET_SIZE ? 1 : node < FIRST_TRIGRAM_NODE ? 2 : 3;
}

/** The language of entry `e`. */
function entryLang(e: number): number {
  return DIGIT[entries.charCodeAt(e * 6)]!;
}

/** P(gram | lang) of entry `e`, whose n-gram has `n` characters. */
function entryProbability(e: number, lang: number, n: number): number {
  const count = digits2(entries, e * 6 + 1) * 0x40000 + digits3(entries, e * 6 + 3);
  // Same division as langdetect, so the probabilities are bit-identical.
  return count / profileData.nWords[lang]![n - 1]!;
}

/** The probabilities of one node's n-gram, languages ascending. */
function probabilitiesOf(node: number, langs: readonly string[]): Array<{ lang: string; prob: number }> {
  const probs: Array<{ lang: string; prob: number }> = [];
  for (let e = firstEntry(node), end = firstEntry(node + 1); e < end; e++) {
    probs.push({ lang: langs[entryLang(e)]!, prob: entryProbability(e, entryLang(e), gramLength(node)) });
  }
  return probs;
}

/**
 * Every n-gram of the bundled profiles with its probabilities per language, decoded from the
 * tables (for tests: they compare it with the source profiles).
 */
export function* profileEntries(): Generator<{ gram: string; probs: Array<{ lang: string; prob: number }> }> {
  const { langs } = loadProfiles();
  const grams = [...profileData.alphabet];
  for (let parent = 1; parent < FIRST_TRIGRAM_NODE; parent++) {
    const end = digits3(childStart, parent * 3);
    for (let i = digits3(childStart, (parent - 1) * 3); i < end; i++) {
      grams[ALPHABET_SIZE + i] = grams[parent - 1]! + profileData.alphabet[digits2(childLetters, i * 2) - 1]!;
    }
  }
  for (let node = 1; node <= profileData.nodeCount; node++) {
    if (hasEntries(node)) yield { gram: grams[node - 1]!, probs: probabilitiesOf(node, langs) };
  }
}

/**
 * The probabilities of one n-gram (1-3 characters, already normalised as langdetect does) as the
 * detector looks it up, or undefined if no profile has it.
 */
export function ngramProbabilities(gram: string): Array<{ lang: string; prob: number }> | undefined {
  const p = loadProfiles();
  if (gram.length < 1 || gram.length > 3) return undefined;
  let node = p.letterOf[gram.charCodeAt(0)]!;
  for (let i = 1; i < gram.length; i++) node = child(node, p.letterOf[gram.charCodeAt(i)]!);
  return node !== 0 && hasEntries(node) ? probabilitiesOf(node, p.langs) : undefined;
}

/** langdetect's `NGram.normalize_vi`: base letter + combining mark -> precomposed Vietnamese letter. */
function normalizeVietnamese(text: string, p: ProfileTable): string {
  return text.replace(p.viNormalizeRe, (_, letter: string, mark: string) => {
    const markIndex = profileData.dmarkClass.indexOf(mark);
    const letterIndex = profileData.toNormalizeViChars.indexOf(letter);
    return [...profileData.normalizedViChars[markIndex]!][letterIndex]!;
  });
}

const SPACE = 0x20;

/** langdetect's `NGram.normalize`, by Unicode block, on a code point. */
function normalizeChar(cp: number, p: ProfileTable): number {
  if (cp <= 0x7f) {
    // Basic Latin: only letters survive.
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? cp : SPACE;
  }
  if (cp <= 0xff) return p.latin1Excluded.has(cp) ? SPACE : cp;
  if (cp >= 0x180 && cp <= 0x24f) {
    // Latin Extended-B: Romanian comma-below letters -> cedilla forms.
    if (cp === 0x219) return 0x15f;
    if (cp === 0x21b) return 0x163;
    return cp;
  }
  if (cp >= 0x2000 && cp <= 0x206f) return SPACE; // General Punctuation
  if (cp >= 0x600 && cp <= 0x6ff) return cp === 0x6cc ? 0x64a : cp; // Farsi yeh -> Arabic yeh
  if (cp >= 0x1e00 && cp <= 0x1eff) return cp >= 0x1ea0 ? 0x1ec3 : cp; // Latin Extended Additional
  if (cp >= 0x3040 && cp <= 0x309f) return 0x3042; // Hiragana
  if (cp >= 0x30a0 && cp <= 0x30ff) return 0x30a2; // Katakana
  if ((cp >= 0x3100 && cp <= 0x312f) || (cp >= 0x31a0 && cp <= 0x31bf)) return 0x3105; // Bopomofo
  if (cp >= 0x4e00 && cp <= 0x9fff) return p.cjkRepresentative.get(cp) ?? cp; // CJK Unified Ideographs
  if (cp >= 0xac00 && cp <= 0xd7af) return 0xac00; // Hangul Syllables
  return cp;
}

const UPPER_CACHE = new Map<number, boolean>();

/** Python `ch.isupper()` for one code point (ASCII inline, the rest through the regex once each). */
function isUpperCodePoint(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a;
  let upper = UPPER_CACHE.get(cp);
  if (upper === undefined) {
    upper = pyIsUpper(String.fromCodePoint(cp));
    UPPER_CACHE.set(cp, upper);
  }
  return upper;
}

/** Steps 1-2, what langdetect looks at: `cleaned` up to code unit `end`, without ASCII letters if `dropLatin`. */
interface PreparedText {
  cleaned: string;
  end: number;
  dropLatin: boolean;
}

/**
 * Steps 1-2. langdetect also collapses double spaces, which cannot change the n-grams (a space
 * after a space adds none) and only matters to its 10,000-character cut, which counts them.
 */
function prepareText(text: string, p: ProfileTable): PreparedText {
  // The URL and e-mail patterns cannot match without "http" or "@"; skipping them saves a scan
  // that tries up to 64 characters at every position.
  if (text.includes("http")) text = text.replace(URL_RE, " ");
  if (text.includes("@")) text = text.replace(MAIL_RE, " ");
  const cleaned = normalizeVietnamese(text, p);
  let latin = 0;
  let nonLatin = 0;
  let i = 0;
  for (let taken = 0; i < cleaned.length && taken < MAX_TEXT_LENGTH; i++, taken++) {
    const unit = cleaned.charCodeAt(i);
    if (unit >= 0x41 && unit <= 0x7a) latin++;
    // langdetect 1.0.9 means to exempt Latin Extended Additional here, but compares a block id
    // with a block name, so every character from U+0300 up counts as non-Latin.
    else if (unit >= 0x300) {
      nonLatin++;
      // A surrogate pair is one character (and a lone surrogate counts as one too).
      if (unit <= 0xdbff && unit >= 0xd800 && (cleaned.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    }
  }
  // If non-Latin characters dominate, langdetect removes U+0041..U+007A (stray Latin words).
  return { cleaned, end: i, dropLatin: latin * 2 < nonLatin };
}

/**
 * The n-grams found, reused from one detection to the next (a text of at most 10,000 characters
 * has at most three n-grams per character).
 */
const foundNgrams = new Int32Array(3 * MAX_TEXT_LENGTH);

/**
 * Step 3: the known n-grams of the text (trie nodes) in order, duplicates kept (they weight the
 * draws), in `foundNgrams`; returns how many.
 */
function extractNgrams({ cleaned, end, dropLatin }: PreparedText, p: ProfileTable): number {
  const found = foundNgrams;
  let count = 0;
  const spaceLetter = p.letterOf[SPACE]!;
  // The window holds the last 1-3 normalised characters; node1/node2 are the trie nodes of its
  // last one and last two characters (0 when unknown), which extend to the next 2- and 3-grams.
  let windowLength = 1;
  let lastIsSpace = true;
  let lastUpper = false;
  let node1 = spaceLetter;
  let node2 = 0;
  let capitalWord = false;
  for (let i = 0; i < end; i++) {
    let cp = cleaned.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      cp = cleaned.codePointAt(i)!;
      if (cp > 0xffff) i++;
    }
    if (dropLatin && cp >= 0x41 && cp <= 0x7a) continue;
    cp = normalizeChar(cp, p);
    if (lastIsSpace) {
      windowLength = 1;
      node1 = spaceLetter;
      node2 = 0;
      capitalWord = false;
      lastUpper = false;
      if (cp === SPACE) continue;
    } else if (windowLength >= 3) {
      windowLength = 2;
    }
    windowLength++;
    const letter = cp <= 0xffff ? p.letterOf[cp]! : 0;
    const gram3 = windowLength === 3 ? child(node2, letter) : 0;
    const gram2 = child(node1, letter);
    node1 = letter;
    node2 = gram2;
    const upper = isUpperCodePoint(cp);
    if (upper) {
      if (lastUpper) capitalWord = true;
    } else {
      capitalWord = false;
    }
    lastUpper = upper;
    lastIsSpace = cp === SPACE;
    if (capitalWord) continue;
    // 1-, 2-, then 3-gram, as langdetect appends them; the 1-gram " " is never counted.
    if (letter !== 0 && cp !== SPACE && hasEntries(letter)) found[count++] = letter;
    if (gram2 !== 0 && hasEntries(gram2)) found[count++] = gram2;
    if (gram3 !== 0 && hasEntries(gram3)) found[count++] = gram3;
  }
  return count;
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
  const ngramCount = extractNgrams(prepareText(text, p), p);
  if (ngramCount === 0) return { ok: false, error: "no features in text" };
  const ngrams = foundNgrams;

  const langCount = p.langs.length;
  const rows = (denseRows ??= new DenseRows(langCount));
  const langProb = new Float64Array(langCount);
  const rng = (seededRandom ??= new SeededReplay(SEED));
  rng.restart();
  const prob = new Float64Array(langCount);
  for (let trial = 0; trial < N_TRIAL; trial++) {
    prob.fill(1 / langCount);
    const alpha = ALPHA + rng.gauss(0, 1) * ALPHA_WIDTH;
    const weight = alpha / BASE_FREQ;
    for (let i = 0; ; i++) {
      // prob[l] *= weight + P(gram | l); P is zero for languages that lack the n-gram, and
      // weight + 0 is exactly weight, so the dense row gives langdetect's products bit for bit.
      // (`rows.dense` is read after `rows.row`, which may have replaced it.)
      const base = rows.row(ngrams[rng.randbelow(ngramCount)]!);
      if (i % 5 !== 0) multiplyRow(prob, rows.dense, base, weight);
      // Every fifth draw langdetect normalises and tests for convergence; the sum is taken in
      // the multiplying pass (same order of additions, so the same sum).
      else if (scaleBy(prob, multiplyRowAndSum(prob, rows.dense, base, weight)) > CONV_THRESHOLD || i >= ITERATION_LIMIT) break;
    }
    for (let l = 0; l < langCount; l++) langProb[l] = langProb[l]! + prob[l]! / N_TRIAL;
  }

  const scores: LanguageScore[] = [];
  for (let l = 0; l < langCount; l++) if (langProb[l]! > PROB_THRESHOLD) scores.push({ lang: p.langs[l]!, prob: langProb[l]! });
  scores.sort((a, b) => b.prob - a.prob); // stable, like Python's sort(reverse=True)
  return { ok: true, language: scores[0]?.lang ?? "unknown", scores };
}

/**
 * Dense rows of P(gram | lang) (zero where the language lacks the n-gram), made on an n-gram's
 * first draw and kept for later detections in the isolate (common n-grams recur in every text):
 * the trials then multiply without searching the sparse entries. The table grows as rows are
 * made, up to MAX_DENSE_ROWS rows (3.6 MB); when that is full, every row is forgotten and made
 * again on demand. A row's offset is used right away (before the next `row` call), so forgetting
 * in the middle of a detection is safe. A node's offset is valid while its stamp equals `stamp`.
 */
const MAX_DENSE_ROWS = 8192;

class DenseRows {
  private stamp = 1;
  /** Per node, its row's stamp at `2 * node` and offset at `2 * node + 1` (one cache line for both). */
  private readonly rowOf = new Int32Array(2 * (profileData.nodeCount + 1));
  private used = 0;
  dense: Float64Array;

  constructor(private readonly langCount: number) {
    this.dense = new Float64Array(256 * langCount);
  }

  /** Offset of `node`'s row in `dense` (which this may replace by a larger table). */
  row(node: number): number {
    if (this.rowOf[2 * node] === this.stamp) return this.rowOf[2 * node + 1]!;
    const langCount = this.langCount;
    if (this.used + langCount > this.dense.length) {
      if (this.dense.length < MAX_DENSE_ROWS * langCount) {
        const grown = new Float64Array(Math.min(this.dense.length * 2, MAX_DENSE_ROWS * langCount));
        grown.set(this.dense);
        this.dense = grown;
      } else {
        this.stamp++;
        this.used = 0;
      }
    }
    const base = this.used;
    this.used += langCount;
    const dense = this.dense;
    dense.fill(0, base, base + langCount);
    const n = gramLength(node);
    for (let e = firstEntry(node), end = firstEntry(node + 1); e < end; e++) {
      const lang = entryLang(e);
      dense[base + lang] = entryProbability(e, lang, n);
    }
    this.rowOf[2 * node] = this.stamp;
    this.rowOf[2 * node + 1] = base;
    return base;
  }
}

let denseRows: DenseRows | undefined;

/** The generator of every detection, restarted at `random.seed(0)` each time. */
let seededRandom: SeededReplay | undefined;

/**
 * prob[l] *= weight + dense[base + l]. A function of its own: V8 compiles a small hot function
 * to machine code after a few calls, whereas a loop inlined in a long-running one stays
 * interpreted (boxing every double) until on-stack replacement, which matters on a fresh isolate.
 */
function multiplyRow(prob: Float64Array, dense: Float64Array, base: number, weight: number): void {
  for (let l = 0; l < prob.length; l++) prob[l] = prob[l]! * (weight + dense[base + l]!);
}

/** `multiplyRow`, returning the sum of the new probabilities. */
function multiplyRowAndSum(prob: Float64Array, dense: Float64Array, base: number, weight: number): number {
  let sum = 0;
  for (let l = 0; l < prob.length; l++) {
    const p = prob[l]! * (weight + dense[base + l]!);
    prob[l] = p;
    sum += p;
  }
  return sum;
}

/** Divides by `sum` (langdetect's normalisation) and returns the largest probability. */
function scaleBy(prob: Float64Array, sum: number): number {
  let max = 0;
  for (let l = 0; l < prob.length; l++) {
    const scaled = prob[l]! / sum;
    if (max < scaled) max = scaled;
    prob[l] = scaled;
  }
  return max;
}
