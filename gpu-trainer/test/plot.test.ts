/**
 * The training plot (plot.svg): axes labelled with round values a reader takes in at a glance; a
 * run's metrics.jsonl read back, also one written before evaluations took the HF names.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricsLog, type MetricsRow, plotSvg, readMetrics } from "../src/train/report.ts";

/** Each panel's axis labels, in order: y (right-aligned, left of the plot), then x (steps). */
function axisLabels(svg: string): { y: string[]; x: string[] }[] {
  const panels = svg.split(/(?=<text [^>]*font-weight="bold")/).slice(1);
  const texts = (panel: string, anchor: string) =>
    [...panel.matchAll(new RegExp(`<text [^>]*text-anchor="${anchor}" font-size="10">([^<]*)</text>`, "g"))].map((m) => m[1]!);
  return panels.map((panel) => ({ y: texts(panel, "end"), x: texts(panel, "middle") }));
}

describe("plot.svg's axes", () => {
  it("tick at round, evenly spaced values covering the data, without exponents or repeated labels", () => {
    // early DPO steps: a loss within 6e-4 of ln 2, margins of a few 1e-4 around 0
    const rows: MetricsRow[] = Array.from({ length: 37 }, (_, i) => ({
      step: i + 1,
      loss: Math.LN2 - 0.0006 * (i / 36),
      "rewards/margins": -3.77e-4 + 0.0025 * (i / 36),
    }));
    const panels = axisLabels(plotSvg(rows, "run"));
    expect(panels).toHaveLength(2);
    for (const [panel, [low, high]] of panels.map((p, i) => [p, i === 0 ? [Math.LN2 - 0.0006, Math.LN2] : [-3.77e-4, 2.123e-3]] as const)) {
      expect(panel.y.length).toBeGreaterThanOrEqual(3);
      expect(new Set(panel.y).size).toBe(panel.y.length);
      for (const label of panel.y) expect(label).toMatch(/^-?\d+(\.\d+)?$/); // plain decimals, no "e-4"
      const values = panel.y.map(Number);
      const step = values[1]! - values[0]!;
      // the step is 1, 2, 2.5 or 5 times a power of ten, and every tick a whole multiple of it
      expect([1, 2, 2.5, 5]).toContainEqual(Number((step / 10 ** Math.floor(Math.log10(step))).toFixed(6)));
      for (const [i, v] of values.entries()) {
        expect(v).toBeCloseTo(values[0]! + i * step, 12);
        expect(Math.abs(v / step - Math.round(v / step))).toBeLessThan(1e-6);
      }
      expect(values[0]).toBeLessThanOrEqual(low);
      expect(values.at(-1)).toBeGreaterThanOrEqual(high);
      expect(panel.x.every((label) => /^\d+$/.test(label))).toBe(true);
      expect(new Set(panel.x).size).toBe(panel.x.length);
    }
  });
});

describe("a run written before evaluations took the HF names (eval/loss, not eval_loss)", () => {
  const old = [
    { step: 1, loss: 0.69, "rewards/margins": 0 },
    { step: 2, loss: 0.6, "rewards/margins": 0.1 },
    { step: 2, "eval/loss": 0.65, "eval/rewards/margins": 0.05, "eval/rewards/accuracies": 0.5 },
    { step: 3, loss: 0.5, "rewards/margins": 0.2 },
    { step: 4, loss: 0.4, "rewards/margins": 0.3 },
    { step: 4, "eval/loss": 0.55, "eval/rewards/margins": 0.15, "eval/rewards/accuracies": 0.75 },
  ];
  const withRun = async (check: (path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), "old-run-"));
    try {
      const path = join(dir, "metrics.jsonl");
      writeFileSync(path, old.map((r) => JSON.stringify(r) + "\n").join(""));
      await check(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("reads back under today's names, training rows unchanged", () =>
    withRun(async (path) => {
      const rows = await readMetrics(path);
      expect(rows[0]).toEqual(old[0]);
      expect(rows[2]).toEqual({ step: 2, eval_loss: 0.65, "eval_rewards/margins": 0.05, "eval_rewards/accuracies": 0.5 });
      expect(rows.some((r) => Object.keys(r).some((k) => k.startsWith("eval/")))).toBe(false);
    }));

  it("a resume keeps its rows up to the checkpoint, rewritten under today's names", () =>
    withRun(async (path) => {
      const kept = await new MetricsLog(path).truncateAfter(3);
      expect(kept.map((r) => r.step)).toEqual([1, 2, 2, 3]);
      const lines = readFileSync(path, "utf8").trim().split("\n");
      expect(lines).toHaveLength(4);
      expect(JSON.parse(lines[2]!)).toMatchObject({ eval_loss: 0.65 });
      expect(lines.join("")).not.toContain("eval/");
    }));

  it("its plot shows the evaluations (the eval loss and margin dots)", () =>
    withRun(async (path) => {
      const svg = plotSvg(await readMetrics(path), "old run");
      expect(svg.match(/<circle /g)).toHaveLength(4); // 2 evaluations x (loss, margin)
    }));
});
