/**
 * The bundled langdetect profiles (src/judge/data/langdetect-profiles.json), stored as a trie of
 * fixed-width base64url tables that the detector reads in place: they must decode to exactly the
 * probabilities langdetect computes from its own profiles, and the detector's trie lookup must
 * find every n-gram and nothing else. (Language verdicts over many texts: nlp-oracle.test.ts.)
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ngramProbabilities, profileEntries } from "../../src/judge/langdetect/detect.ts";

const entries = [...profileEntries()];

/** SHA-256 over "gram\tlang:prob lang:prob ..." lines, sorted (probabilities as JavaScript prints them). */
function digest(rows: Array<{ gram: string; probs: Array<{ lang: string; prob: number }> }>): string {
  const lines = rows.map(({ gram, probs }) => `${gram}\t${probs.map((p) => `${p.lang}:${p.prob}`).join(" ")}`).sort();
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line + "\n");
  return hash.digest("hex");
}

describe("bundled langdetect profiles", () => {
  it("decode to exactly the values of the previous JSON text format", () => {
    expect(entries).toHaveLength(87_598);
    expect(entries.reduce((n, e) => n + e.probs.length, 0)).toBe(184_129);
    // Computed from the profiles as the previous format stored them ("gram\tlang.count ..." in
    // base 36, probability = count / n_words[lang][n - 1]), before this format replaced it.
    expect(digest(entries)).toBe("dfa0ee98d1fad9edca13dc843fa223ad166e75f04ca2219d0680250340ed6975");
  });

  it("are found by the detector's trie lookup, n-gram by n-gram", () => {
    const missed = entries.filter(({ gram, probs }) => JSON.stringify(ngramProbabilities(gram)) !== JSON.stringify(probs));
    expect(missed.map((e) => e.gram)).toEqual([]);
    for (const absent of ["", "qqq", "zxq", "abcd", "\u{1F600}", "é\u0301"]) expect(ngramProbabilities(absent)).toBeUndefined();
  });

  // Debian's python3-langdetect ships the source profiles; where it is installed, compare with them.
  const sourceDir = "/usr/lib/python3/dist-packages/langdetect/profiles";
  it.skipIf(!existsSync(sourceDir))("equal langdetect's own profiles (count / n_words, as langdetect divides)", () => {
    const expected = new Map<string, Array<{ lang: string; prob: number }>>();
    for (const lang of readdirSync(sourceDir).sort()) {
      const profile = JSON.parse(readFileSync(join(sourceDir, lang), "utf8")) as { freq: Record<string, number>; n_words: number[] };
      for (const [gram, count] of Object.entries(profile.freq)) {
        const probs = expected.get(gram) ?? [];
        probs.push({ lang, prob: count / profile.n_words[[...gram].length - 1]! });
        expected.set(gram, probs);
      }
    }
    expect(digest([...expected].map(([gram, probs]) => ({ gram, probs })))).toBe(digest(entries));
  });
});
