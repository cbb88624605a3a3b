/**
 * CFBench scoring: hand-computed items for every parsing and PSR branch, numpy's rounding, and
 * `iopo cfbench --replay` as a real process over a judge file in the reference's shape
 * (test/node/fixtures/cfbench/sample_eval.json: written for these tests, each item's `note` says
 * which branch it reaches; its judge_metric values are the ones worked out below).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  aggregate,
  itemMetric,
  lenientScores,
  npRound2,
  pairwiseSum,
  parseJudgement,
  pythonFloat,
  scoreRecorded,
  strictScores,
  type CfbenchPriority,
} from "../../src/benchmarks/cfbench/score.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");
const SAMPLE = join(ROOT, "test/node/fixtures/cfbench/sample_eval.json");

const P: CfbenchPriority = "主需";
const S: CfbenchPriority = "次需";
const answer = (scores: (number | string)[], sep = "\n\n") => scores.map((s, i) => `c${i + 1}\t${s}`).join(sep);
const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i + 1}`);
const score = (scores: (number | string)[], priorities: CfbenchPriority[], sep = "\n\n") =>
  itemMetric(parseJudgement(answer(scores, sep), names(priorities.length)), priorities);

describe("CFBench judge answers", () => {
  it("reads the strict format: one '<criterion>\\t<0|1>' block per criterion, criterion verbatim", () => {
    expect(strictScores("c1\t1\n\nc2\t0", ["c1", "c2"])).toEqual(["1", "0"]);
    expect(strictScores("c1\t1.0\n\nc2\t 0 ", ["c1", "c2"])).toEqual(["1.0", "0"]);
    expect(strictScores("c1\t1\nc2\t0", ["c1", "c2"])).toBeNull(); // one block for two criteria
    expect(strictScores("c1\t1\n\nC2\t0", ["c1", "c2"])).toBeNull(); // criterion text differs
    expect(strictScores("c1\t1\t1\n\nc2\t0", ["c1", "c2"])).toBeNull(); // two tabs
    expect(strictScores("c1\t2\n\nc2\t0", ["c1", "c2"])).toBeNull(); // not 0 or 1
    expect(strictScores("c1\tyes\n\nc2\t0", ["c1", "c2"])).toBeNull();
  });

  it("falls back to the lenient reading, which keeps only the 1s, else to one 0", () => {
    expect(lenientScores("c1\t1\nc2\t0\nnoise\nc3\t1.0\nc4\t2")).toEqual(["1", "1.0"]);
    expect(parseJudgement("c1\t1\nc2\t0", ["c1", "c2"])).toEqual({ parsing: "0", scores: ["1"] });
    expect(parseJudgement("c1\t0\nc2\t0", ["c1", "c2"])).toEqual({ parsing: "-1", scores: ["0"] });
    expect(parseJudgement("Error", ["c1"])).toEqual({ parsing: "-1", scores: ["0"] });
    expect(parseJudgement(null, ["c1"])).toEqual({ parsing: "-1", scores: ["0"] });
  });

  it("reads scores as Python's float() does", () => {
    expect(pythonFloat(" 1 ")).toBe(1);
    expect(pythonFloat("+0.0")).toBe(0);
    expect(pythonFloat("1e0")).toBe(1);
    expect(pythonFloat("１")).toBe(1);
    expect(pythonFloat("1_0")).toBe(10);
    expect(pythonFloat("1__0")).toBeUndefined();
    expect(pythonFloat("1.")).toBe(1);
    expect(pythonFloat(".5")).toBe(0.5);
    expect(pythonFloat("")).toBeUndefined();
    expect(pythonFloat("0x1")).toBeUndefined();
    expect(Number.isNaN(pythonFloat("nan"))).toBe(true);
  });
});

describe("CFBench item metrics (CSR, ISR, PSR)", () => {
  it("mixed primary and secondary: 0.5 + 0.5 x round(mean(secondary), 2) > 0.8", () => {
    // secondary 1,1,1,0: 0.75 -> 0.875
    expect(score([1, 1, 1, 1, 0], [P, S, S, S, S])).toEqual({ CSR: 0.8, ISR: 0, PSR: 1 });
    // secondary 1,0,1: 0.67 (rounded before use) -> 0.835
    expect(score([1, 1, 0, 1], [P, S, S, S])).toEqual({ CSR: 0.75, ISR: 0, PSR: 1 });
    // secondary 1,0: 0.5 -> 0.75
    expect(score([1, 1, 0], [P, S, S])).toEqual({ CSR: 0.67, ISR: 0, PSR: 0 });
  });

  it("a failed primary criterion makes PSR 0 whatever the rest", () => {
    expect(score([0, 1, 1, 1, 1, 1], [P, S, S, S, S, S])).toEqual({ CSR: 0.83, ISR: 0, PSR: 0 });
  });

  it("all secondary: PSR is CSR > 0.8 (0.8 itself fails)", () => {
    expect(score([1, 1, 1, 1, 1, 0], [S, S, S, S, S, S])).toEqual({ CSR: 0.83, ISR: 0, PSR: 1 });
    expect(score([1, 1, 1, 1, 0], [S, S, S, S, S])).toEqual({ CSR: 0.8, ISR: 0, PSR: 0 });
  });

  it("all primary and met: ISR and PSR 1", () => {
    expect(score([1, 1], [P, P])).toEqual({ CSR: 1, ISR: 1, PSR: 1 });
  });

  it("lenient fallback: CSR over the 1s found, PSR = CSR > 0.8; nothing usable scores 0", () => {
    expect(score([1, 0, 1], [P, S, S], "\n")).toEqual({ CSR: 1, ISR: 1, PSR: 1 });
    // the README's example: 3 criteria, an answer with two single-newline lines
    expect(score([1, 0], [P, S, S], "\n")).toEqual({ CSR: 1, ISR: 1, PSR: 1 });
    expect(score([0, 0], [P, S], "\n")).toEqual({ CSR: 0, ISR: 0, PSR: 0 });
  });

  it("rounds as numpy does (half to even after scaling by 100)", () => {
    expect(npRound2(0.125)).toBe(0.12);
    expect(npRound2(0.375)).toBe(0.38);
    expect(npRound2(2 / 3)).toBe(0.67);
    expect(npRound2(5 / 6)).toBe(0.83);
    // numpy's pairwise sum (8 accumulators from 8 values on) differs from a running sum in the last bits
    const values = Array.from({ length: 200 }, (_, i) => [0.67, 0.83, 0.33, 0.17, 0.71][i % 5]!);
    const running = values.reduce((a, b) => a + b, 0);
    const lanes = Array.from({ length: 8 }, (_, j) =>
      values
        .slice(0, 96)
        .filter((_, i) => i % 8 === j)
        .reduce((a, b) => a + b, 0),
    );
    const firstHalf = lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!) + (lanes[4]! + lanes[5]! + (lanes[6]! + lanes[7]!));
    expect(pairwiseSum(values.slice(0, 96))).toBe(firstHalf);
    expect(Math.abs(pairwiseSum(values) - running)).toBeLessThan(1e-9);
  });

  it("averages per split, null for an empty split", () => {
    const m = (CSR: number, ISR: 0 | 1, PSR: 0 | 1) => ({ CSR, ISR, PSR });
    const scores = aggregate([
      { split: "easy", metric: m(0.67, 0, 1) },
      { split: "easy", metric: m(1, 1, 1) },
      { split: "easy", metric: m(0.5, 0, 0) },
    ]);
    // (0.67 + 1 + 0.5) / 3 = 0.7233; ISR 1/3; PSR 2/3
    expect(scores.easy).toEqual({ CSR: 0.72, ISR: 0.33, PSR: 0.67, items: 3 });
    expect(scores.hard).toEqual({ CSR: null, ISR: null, PSR: null, items: 0 });
    expect(scores.full).toEqual(scores.easy);
  });
});

describe("iopo cfbench --replay", () => {
  const sample = JSON.parse(readFileSync(SAMPLE, "utf8")) as Parameters<typeof scoreRecorded>[0][] &
    { judge_metric: unknown; judge_parsing: string }[];

  it("re-scores every fixture item to its worked-out judge_metric", () => {
    for (const item of sample) {
      const { parsed, metric } = scoreRecorded(item);
      expect({ idx: item.idx, parsing: parsed.parsing, metric }).toEqual({
        idx: item.idx,
        parsing: (item as { judge_parsing: string }).judge_parsing,
        metric: (item as { judge_metric: unknown }).judge_metric,
      });
    }
  });

  it("writes per-item verdicts with the live path's fields and the easy/hard/full means, without a model", () => {
    const out = join(mkdtempSync(join(tmpdir(), "iopo-cfbench-")), "scores.json");
    const run = spawnSync(NODE, ["bin/iopo.mjs", "cfbench", "--replay", SAMPLE, "--json", out], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const written = JSON.parse(readFileSync(out, "utf8"));
    expect(written.items).toHaveLength(13);
    const { idx, split, judge_parsing, judge_score, judge_response } = sample[1] as unknown as Record<string, unknown>;
    expect(written.items[1]).toEqual({ idx, split, CSR: 0.75, ISR: 0, PSR: 1, judge_parsing, judge_score, judge_response });
    // the lenient reading keeps only the lines scoring 1: idx 7's answer scores 1, 0, 1 on single lines
    expect(written.items[7]).toMatchObject({ CSR: 1, ISR: 1, PSR: 1, judge_parsing: "0", judge_score: ["1", "1"] });
    // easy: CSR (0.67 + 0.5 + 0.83 + 0.8 + 0 + 0 + 1) / 7 = 0.5429; ISR 1/7; PSR 2/7
    expect(written.scores.easy).toEqual({ CSR: 0.54, ISR: 0.14, PSR: 0.29, items: 7 });
    // hard: CSR (0.8 + 0.75 + 1 + 1 + 0 + 0.67) / 6 = 0.7033; ISR 2/6; PSR 4/6
    expect(written.scores.hard).toEqual({ CSR: 0.7, ISR: 0.33, PSR: 0.67, items: 6 });
    // full: CSR 8.02 / 13 = 0.6169; ISR 3/13; PSR 6/13
    expect(written.scores.full).toEqual({ CSR: 0.62, ISR: 0.23, PSR: 0.46, items: 13 });
    expect(run.stdout).toMatch(/full\s+0\.62\s+0\.23\s+0\.46\s+13/);
  });

  it("names a malformed item and exits 1", () => {
    const bad = join(mkdtempSync(join(tmpdir(), "iopo-cfbench-")), "bad.json");
    writeFileSync(bad, JSON.stringify([{ idx: 7, split: "easy", criteria: [["c", "必需", "t", "d"]], judge_response: "c\t1" }]));
    const run = spawnSync(NODE, ["bin/iopo.mjs", "cfbench", "--replay", bad], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/idx 7.*criteria\.0/);
  });
});
