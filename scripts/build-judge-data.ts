/**
 * Regenerates the data files that src/judge bundles (run once; the outputs are committed):
 *
 *   npx tsx scripts/build-judge-data.ts \
 *     --punkt data/punkt/english.json \
 *     --langdetect /usr/lib/python3/dist-packages/langdetect
 *
 * - src/judge/data/punkt-english.json: NLTK's English Punkt parameters (Apache-2.0), with the
 *   orthographic contexts grouped by flag value so the file stays small.
 * - src/judge/data/langdetect-profiles.json: the 55 language profiles of `langdetect` 1.0.9
 *   (Apache-2.0; Debian's python3-langdetect ships them) plus the normalisation tables from its
 *   messages.properties (Vietnamese diacritics, CJK character classes). The n-gram counts are a
 *   trie of fixed-width base64url numbers that the detector reads in place, so a fresh Worker
 *   isolate decodes nothing up front; the layout is documented at `ProfileTable` in
 *   src/judge/langdetect/detect.ts.
 *
 * The language list is sorted by name; langdetect itself loads profiles in directory order, which
 * only changes floating-point summation order and tie-breaking between exactly equal scores.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { punkt: { type: "string" }, langdetect: { type: "string" }, out: { type: "string" } },
});
if (!values.punkt || !values.langdetect) {
  console.error("usage: build-judge-data.ts --punkt <english.json> --langdetect <langdetect package dir>");
  process.exit(2);
}
const outDir = values.out ?? new URL("../src/judge/data/", import.meta.url).pathname;

// --- Punkt ---------------------------------------------------------------------------------
interface PunktSource {
  abbrev_types: string[];
  collocations: [string, string][];
  sentence_starters: string[];
  ortho_context: Record<string, number>;
}
const punkt = JSON.parse(readFileSync(values.punkt, "utf8")) as PunktSource;
const orthoByFlag: Record<string, string[]> = {};
for (const [type, flag] of Object.entries(punkt.ortho_context)) {
  if (/\s/.test(type)) throw new Error(`ortho_context type with whitespace: ${JSON.stringify(type)}`);
  (orthoByFlag[flag] ??= []).push(type);
}
const punktOut = {
  source: "NLTK data, tokenizers/punkt (English), Apache License 2.0",
  abbrev_types: punkt.abbrev_types,
  collocations: punkt.collocations,
  sentence_starters: punkt.sentence_starters,
  // flag value -> space-separated word types (types never contain whitespace)
  ortho_context: Object.fromEntries(Object.entries(orthoByFlag).map(([flag, types]) => [flag, types.join(" ")])),
};
writeFileSync(join(outDir, "punkt-english.json"), JSON.stringify(punktOut) + "\n");

// --- langdetect ------------------------------------------------------------------------------
const profileDir = join(values.langdetect, "profiles");
const langs = readdirSync(profileDir)
  .filter((f) => !f.startsWith("."))
  .sort();
const nWords: number[][] = [];
const freqs: Array<Record<string, number>> = [];
for (const lang of langs) {
  const profile = JSON.parse(readFileSync(join(profileDir, lang), "utf8")) as {
    name: string;
    freq: Record<string, number>;
    n_words: number[];
  };
  if (profile.name !== lang) throw new Error(`profile ${lang} is named ${profile.name}`);
  nWords.push(profile.n_words);
  freqs.push(profile.freq);
}
const table = buildProfileTable(langs.length, freqs);

/**
 * The n-gram table (layout: `ProfileTable` in src/judge/langdetect/detect.ts): a trie whose nodes
 * are numbered 1-grams first (node i is alphabet[i - 1]), then 2-grams, then 3-grams, each level
 * sorted by (parent node, last letter), so a node's children are consecutive. Every number is
 * written as fixed-width base64url digits (6 bits each) that the detector reads in place.
 */
function buildProfileTable(langCount: number, freqList: Array<Record<string, number>>) {
  const counts = new Map<string, Array<[number, number]>>();
  freqList.forEach((freq, lang) => {
    for (const [gram, count] of Object.entries(freq)) {
      const chars = [...gram];
      if (chars.length < 1 || chars.length > 3 || chars.some((ch) => ch.length !== 1))
        throw new Error(`unexpected gram ${JSON.stringify(gram)}`);
      const entries = counts.get(gram) ?? [];
      entries.push([lang, count]);
      counts.set(gram, entries);
    }
  });
  const alphabet = [...new Set([...counts.keys()].flatMap((gram) => [...gram]))].sort();
  const letter = new Map(alphabet.map((ch, i) => [ch, i + 1]));
  // Every prefix of a gram is a node (a prefix without counts of its own has no entries).
  const node = new Map<string, number>(alphabet.map((ch, i) => [ch, i + 1]));
  const order: string[] = [...alphabet];
  const children: Array<{ parent: number; letter: number }> = [];
  let bigramNodes = 0;
  for (const length of [2, 3]) {
    const prefixes = new Set<string>();
    for (const gram of counts.keys()) if (gram.length >= length) prefixes.add(gram.slice(0, length));
    const keyed = [...prefixes].map((gram) => ({ gram, parent: node.get(gram.slice(0, -1))!, letter: letter.get(gram.at(-1)!)! }));
    keyed.sort((a, b) => a.parent - b.parent || a.letter - b.letter);
    for (const { gram, parent, letter } of keyed) {
      node.set(gram, order.length + 1);
      order.push(gram);
      children.push({ parent, letter });
    }
    if (length === 2) bigramNodes = keyed.length;
  }
  const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const fixed = (value: number, width: number) => {
    if (!Number.isInteger(value) || value < 0 || value >= 64 ** width) throw new Error(`${value} does not fit ${width} digits`);
    let out = "";
    for (let i = width - 1; i >= 0; i--) out += DIGITS[Math.floor(value / 64 ** i) % 64];
    return out;
  };
  // childStart[p - 1]: index (in `children`) of node p's first child; one more for the end.
  let childStart = "";
  let next = 0;
  for (let p = 1; p <= order.length + 1; p++) {
    while (next < children.length && children[next]!.parent < p) next++;
    childStart += fixed(next, 3);
  }
  const childLetters = children.map((c) => fixed(c.letter, 2)).join("");
  let entryStart = "";
  let entries = "";
  let entryCount = 0;
  for (const gram of order) {
    entryStart += fixed(entryCount, 3);
    for (const [lang, count] of (counts.get(gram) ?? []).sort((a, b) => a[0] - b[0])) {
      entries += fixed(lang, 1) + fixed(count, 5);
      entryCount++;
    }
  }
  entryStart += fixed(entryCount, 3);
  if (langCount > 64) throw new Error("language index does not fit one digit");
  return { alphabet: alphabet.join(""), nodeCount: order.length, bigramNodes, childStart, childLetters, entryStart, entries };
}

// messages.properties: KEY=VALUE with \uXXXX escapes.
const messages = new Map<string, string>();
for (const line of readFileSync(join(values.langdetect, "utils", "messages.properties"), "utf8").split("\n")) {
  const eq = line.indexOf("=");
  if (eq < 0) continue;
  const value = line
    .slice(eq + 1)
    .trim()
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  messages.set(line.slice(0, eq).trim(), value);
}
const message = (key: string): string => {
  const value = messages.get(key);
  if (value === undefined) throw new Error(`messages.properties lacks ${key}`);
  return value;
};
// NGram.CJK_CLASS lists these keys in this order; each class maps to its first character.
const kanjiKeys = [...messages.keys()].filter((key) => key.startsWith("NGram.KANJI_"));
const langdetectOut = {
  source: "langdetect 1.0.9 (Python port of Shuyo Nakatani's language-detection), Apache License 2.0",
  langs,
  nWords,
  alphabet: table.alphabet,
  nodeCount: table.nodeCount,
  bigramNodes: table.bigramNodes,
  latin1Excluded: message("NGram.LATIN1_EXCLUDE"),
  toNormalizeViChars: message("TO_NORMALIZE_VI_CHARS"),
  dmarkClass: message("DMARK_CLASS"),
  normalizedViChars: ["0300", "0301", "0303", "0309", "0323"].map((mark) => message(`NORMALIZED_VI_CHARS_${mark}`)),
  cjkClasses: kanjiKeys.map(message),
  childStart: table.childStart,
  childLetters: table.childLetters,
  entryStart: table.entryStart,
  entries: table.entries,
};
writeFileSync(join(outDir, "langdetect-profiles.json"), JSON.stringify(langdetectOut) + "\n");
console.log(
  `wrote ${langs.length} language profiles (${table.nodeCount} trie nodes, ${table.entries.length / 6} counts) and Punkt parameters to ${outDir}`,
);
