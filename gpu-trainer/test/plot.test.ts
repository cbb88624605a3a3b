/** The training plot (plot.svg): axes labelled with round values a reader takes in at a glance. */
import { describe, expect, it } from "vitest";
import { type MetricsRow, plotSvg } from "../src/train/report.ts";

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
