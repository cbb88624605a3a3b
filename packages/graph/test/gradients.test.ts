import { describe, expect, it } from "vitest";
import { grad } from "../src/graph/autodiff.ts";
import { NO_GRADIENT, OPS } from "../src/graph/ops/index.ts";
import { liveNodes } from "../src/graph/graph.ts";
import { Graph } from "../src/graph/graph.ts";
import { gradCheck } from "../src/graph/gradcheck.ts";
import { evaluate } from "../src/graph/interpreter.ts";
import { CASES, makeCase, projectLoss } from "./cases.ts";

const SEEDS = [1, 2, 3];

describe("gradient rules vs central finite differences (float64)", () => {
  const covered = new Set<string>();
  for (const key of Object.keys(CASES)) {
    it.each(SEEDS)(`${key} (seed %i)`, (seed) => {
      const c = makeCase(key, seed);
      const loss = projectLoss(c);
      for (const n of liveNodes([loss])) covered.add(n.op);
      const res = gradCheck(loss, c.wrt, { feeds: c.feeds, eps: 1e-5 });
      for (const r of res) {
        expect(r.checked, r.name).toBeGreaterThan(0);
        expect(r.maxRelErr, `${key} d/d${r.name}: abs ${r.maxAbsErr}`).toBeLessThan(2e-6);
      }
    });
  }
  it("every gradient rule is exercised", () => {
    const missing = Object.entries(OPS)
      .filter(([op, def]) => def.grad !== NO_GRADIENT && !covered.has(op))
      .map(([op]) => op);
    expect(missing).toEqual([]);
  });
});

describe("autodiff behaviour", () => {
  it("StopGradient blocks the gradient", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [3]);
    const y = g.reduceSum(g.mul(x, g.stopGradient(x)));
    const [gx] = grad(y, [x]);
    const [v] = evaluate([gx], { feeds: { x: [1, 2, 3] } });
    expect(Array.from(v.data)).toEqual([1, 2, 3]); // d/dx (x * c) = c
  });
  it("unreachable params get zeros; ints carry no gradient", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2]);
    const w = g.param("w", [2, 2]);
    const i = g.input("i", "int32", [2]);
    const loss = g.reduceSum(g.mul(x, g.cast(i, "float32")));
    const [gw, gx] = grad(loss, [w, x]);
    const [a, b] = evaluate([gw, gx], { feeds: { x: [1, 2], i: [3, 4] } });
    expect(Array.from(a.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(b.data)).toEqual([3, 4]);
  });
  it("multiple uses of a tensor accumulate", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2]);
    const y = g.reduceSum(g.add(g.mul(x, x), g.mul(x, 3)));
    const [gx] = grad(y, [x]);
    expect(Array.from(evaluate([gx], { feeds: { x: [1, -2] } })[0].data)).toEqual([5, -1]);
  });
  it("ReduceMax splits ties evenly", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [4]);
    const [gx] = grad(g.reduceMax(x), [x]);
    expect(Array.from(evaluate([gx], { feeds: { x: [1, 3, 3, 0] } })[0].data)).toEqual([0, 0.5, 0.5, 0]);
  });
  it("a wrong gradient shape is an internal error, not a silent broadcast", () => {
    expect(() => {
      const g = new Graph();
      const x = g.input("x", "float32", [2, 3]);
      const saved = OPS.Neg.grad;
      OPS.Neg.grad = ({ g: gg, gy }) => [gg.reduceSum(gy[0]!, [0], true)];
      try {
        grad(g.reduceSum(g.neg(x)), [x]);
      } finally {
        OPS.Neg.grad = saved;
      }
    }).toThrow(/gradient for input 0 has shape/);
  });
});
