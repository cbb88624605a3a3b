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
 *   messages.properties (Vietnamese diacritics, CJK character classes). Profiles are stored as
 *   one string: a line per n-gram, "gram<TAB>lang.count lang.count ...", numbers in base 36.
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
const langs = readdirSync(profileDir).filter((f) => !f.startsWith(".")).sort();
const nWords: number[][] = [];
const grams = new Map<string, string[]>();
langs.forEach((lang, index) => {
  const profile = JSON.parse(readFileSync(join(profileDir, lang), "utf8")) as {
    name: string;
    freq: Record<string, number>;
    n_words: number[];
  };
  if (profile.name !== lang) throw new Error(`profile ${lang} is named ${profile.name}`);
  nWords.push(profile.n_words);
  for (const [gram, count] of Object.entries(profile.freq)) {
    const length = [...gram].length;
    if (length < 1 || length > 3 || /[\t\n]/.test(gram)) throw new Error(`unexpected gram ${JSON.stringify(gram)}`);
    const entry = grams.get(gram) ?? [];
    entry.push(`${index.toString(36)}.${count.toString(36)}`);
    grams.set(gram, entry);
  }
});
const gramLines = [...grams.keys()].sort().map((gram) => `${gram}\t${grams.get(gram)!.join(" ")}`);

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
  grams: gramLines.join("\n"),
  latin1Excluded: message("NGram.LATIN1_EXCLUDE"),
  toNormalizeViChars: message("TO_NORMALIZE_VI_CHARS"),
  dmarkClass: message("DMARK_CLASS"),
  normalizedViChars: ["0300", "0301", "0303", "0309", "0323"].map((mark) => message(`NORMALIZED_VI_CHARS_${mark}`)),
  cjkClasses: kanjiKeys.map(message),
};
writeFileSync(join(outDir, "langdetect-profiles.json"), JSON.stringify(langdetectOut) + "\n");
console.log(`wrote ${langs.length} language profiles (${grams.size} n-grams) and Punkt parameters to ${outDir}`);
