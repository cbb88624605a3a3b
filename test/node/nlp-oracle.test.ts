/**
 * Differential tests against the Python originals: NLTK's Punkt sentence tokenizer and
 * word_tokenize, and langdetect seeded with 0, on ~540 texts (random windows of the IFEval
 * responses in all their languages, plus hand-written edge cases). The expected values were
 * produced by scripts/judge-oracle/make_fixtures.py.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { detectLanguage, splitSentences, wordTokenize } from "../../src/judge/index.ts";

interface OracleCase {
  text: string;
  sentences: string[];
  tokens: string[];
  languages: Array<[string, number]> | null;
  language_error: string | null;
}

const { cases } = JSON.parse(readFileSync(new URL("./fixtures/nlp-oracle.json", import.meta.url), "utf8")) as {
  cases: OracleCase[];
};

describe("NLTK / langdetect oracle", () => {
  it("has a few hundred cases", () => expect(cases.length).toBeGreaterThan(500));

  it("splits sentences exactly as NLTK Punkt (English)", () => {
    const mismatches = cases.filter((c) => JSON.stringify(splitSentences(c.text)) !== JSON.stringify(c.sentences));
    expect(mismatches.map((c) => c.text)).toEqual([]);
  });

  it("tokenizes words exactly as nltk.word_tokenize", () => {
    const mismatches = cases.filter((c) => JSON.stringify(wordTokenize(c.text)) !== JSON.stringify(c.tokens));
    expect(mismatches.map((c) => ({ text: c.text, ours: wordTokenize(c.text), nltk: c.tokens }))).toEqual([]);
  });

  it("detects languages exactly as langdetect with seed 0", () => {
    const mismatches: unknown[] = [];
    for (const c of cases) {
      const ours = detectLanguage(c.text);
      if (c.languages === null) {
        if (ours.ok) mismatches.push({ text: c.text, ours: ours.scores, python: c.language_error });
        continue;
      }
      const python = c.languages;
      const same =
        ours.ok &&
        ours.scores.length === python.length &&
        ours.scores.every((s, i) => s.lang === python[i]![0] && Math.abs(s.prob - python[i]![1]) < 1e-9);
      if (!same) mismatches.push({ text: c.text, ours: ours.ok ? ours.scores : ours.error, python });
    }
    expect(mismatches).toEqual([]);
  });
});
