/**
 * Robustness: random and adversarial responses never make the judge throw, and every response
 * (up to 1 MB) is judged against all 25 instructions, strict and loose, in bounded time.
 */
import { describe, expect, it } from "vitest";
import { judgeConstraints } from "../../src/judge/index.ts";
import { ONE_OF_EACH } from "./helpers/constraints.ts";

/** Judges strict and loose; returns the elapsed milliseconds. */
function judgeAll(response: string): number {
  const start = performance.now();
  for (const mode of ["strict", "loose"] as const) {
    const result = judgeConstraints(response, ONE_OF_EACH, mode);
    expect(result.results).toHaveLength(25);
    for (const r of result.results) expect(typeof r.passed).toBe("boolean");
  }
  return performance.now() - start;
}

const KB100 = 100 * 1024;
const repeat = (unit: string, length: number) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

const ADVERSARIAL: Record<string, string> = {
  "100 KB of 'a'": repeat("a", KB100),
  "100 KB of spaces": repeat(" ", KB100),
  "100 KB of newlines": repeat("\n", KB100),
  "100 KB of blank lines with spaces": repeat(" \n", KB100),
  "100 KB of '.'": repeat(".", KB100),
  "100 KB of '!'": repeat("!", KB100),
  "100 KB of '*'": repeat("*", KB100),
  "100 KB of '-'": repeat("-", KB100),
  "100 KB of '\"'": repeat('"', KB100),
  '100 KB of "\'"': repeat("'", KB100),
  "100 KB of ','": repeat(",", KB100),
  "100 KB of '@'": repeat("@", KB100),
  "100 KB of 'é'": repeat("é", KB100),
  "100 KB of '東'": repeat("東", KB100),
  "100 KB of emoji": repeat("😀", KB100),
  "100 KB of upper case": repeat("ABC DEF. ", KB100),
  "10k '['": repeat("[", 10_000),
  "10k '[' then text": repeat("[", 10_000) + " text " + repeat("]", 10),
  "10k '{'": repeat("{", 10_000),
  "deep JSON array": repeat("[", 10_000) + repeat("]", 10_000),
  "10k '<<'": repeat("<<", 10_000),
  "10k '>>'": repeat(">>", 10_000),
  "10k '**'": repeat("**", 10_000),
  "10k '***'": repeat("*** ", 40_000),
  "10k '******'": repeat("******\n", 60_000),
  "period then 100 KB of spaces": "Done." + repeat(" ", KB100) + "x",
  "closers then spaces": "A." + repeat(")\"' ", KB100),
  "spaced periods": repeat(". ", KB100),
  initials: repeat("A. ", KB100),
  abbreviations: repeat("Dr. Mr. etc. ", KB100),
  "dotted words": repeat("a.a.", KB100),
  "no whitespace with brackets": repeat("a.(", KB100),
  "lone high surrogates": repeat("\ud800", 10_000),
  "lone low surrogates": repeat("\udc00a", 10_000),
  "mixed surrogates": repeat("a\ud83d\ude00\ud800 \udfff.", 20_000),
  urls: repeat("http://example.com/" + repeat("a", 3000) + " ", KB100),
  "mail-like": repeat("a", 64) + repeat("@a", KB100),
  "NaN JSON": repeat("[NaN, Infinity, -Infinity, ", 20_000),
  "section markers": repeat("Section 1 ", KB100),
  digits: repeat("1234567890", 10_000),
  "control characters": repeat("\u0000\u001c\u0085\u2028\ufeff", 20_000),
};

/** A deterministic generator of random text over a palette that exercises every checker. */
function randomTexts(count: number, seed: number): string[] {
  const palette = [..."aAbBzZ \n\t.,!?*-#[]<>{}()\"'`:;@$%&_0123456789éÉßıİσς東😀\u0300\ud800"].concat([
    "P.S.",
    "Section",
    "******",
    "***",
    "<<",
    ">>",
    "My answer is yes.",
    "```json",
    "NaN",
    "I'M",
    "can't",
    "http://x.y",
  ]);
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0), state / 2 ** 32);
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 400);
    let text = "";
    for (let i = 0; i < length; i++) text += palette[Math.floor(next() * palette.length)];
    return text;
  });
}

describe("judge robustness", () => {
  it("never throws on random text", () => {
    for (const text of randomTexts(300, 42)) judgeAll(text);
  });

  for (const [name, text] of Object.entries(ADVERSARIAL)) {
    it(`judges ${name} without throwing, in bounded time`, () => {
      expect(judgeAll(text)).toBeLessThan(10_000);
    });
  }

  it("judges a 1 MB response in bounded time", () => {
    const paragraph = "The QUICK brown fox, Dr. Smith said, jumps over [the] *lazy* dog. P.S. Section 1 <<T>>\n\n";
    expect(judgeAll(repeat(paragraph, 1024 * 1024))).toBeLessThan(30_000);
  });
});
