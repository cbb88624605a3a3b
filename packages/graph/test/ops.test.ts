/**
 * The op table: every op has all four parts, and each op's shape rule agrees with its reference
 * evaluation on samples (the per-op cases of the gradient checks, their backward graphs, and the
 * bool ops). A new op without an entry part does not compile; one without a sample fails here.
 */
import { describe, expect, it } from "vitest";
import { grad } from "../src/graph/autodiff.ts";
import { Graph, type Tensor, liveNodes } from "../src/graph/graph.ts";
import { type Value, evaluate } from "../src/graph/interpreter.ts";
import { OPS } from "../src/graph/ops/index.ts";
import { bindShape } from "../src/graph/shape.ts";
import { CASES, makeCase, projectLoss } from "./cases.ts";

interface Sample {
  name: string;
  outputs: Tensor[];
  feeds: Record<string, Value>;
}

/** Comparisons and logic: their bool outputs carry no gradient, so no gradient case has them. */
function boolSample(): Sample {
  const g = new Graph();
  const a = g.input("a", "float32", ["B", 3]);
  const b = g.input("b", "float32", [3]);
  const lt = g.less(a, b);
  const mixed = g.or(g.and(lt, g.greater(a, 0)), g.not(g.equal(a, b)));
  const feeds = {
    a: { dtype: "float32" as const, shape: [2, 3], data: Float64Array.from([0.5, -1, 2, 1, 0, -3]) },
    b: { dtype: "float32" as const, shape: [3], data: Float64Array.from([1, 0, 2]) },
  };
  return { name: "bool ops", outputs: [g.where(mixed, a, g.neg(a))], feeds };
}

function samples(): Sample[] {
  const out: Sample[] = [boolSample()];
  for (const key of Object.keys(CASES)) {
    const c = makeCase(key, 1);
    const loss = projectLoss(c);
    out.push({ name: key, outputs: [loss, ...grad(loss, c.wrt)], feeds: c.feeds });
  }
  return out;
}

/** Symbols bound by the feeds (the cases name plain symbols, as "B", in their input shapes). */
function feedDims(nodesInputs: Tensor[], feeds: Record<string, Value>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const t of nodesInputs)
    if (t.kind === "input")
      t.shape.forEach((d, i) => {
        if (typeof d === "string") dims[d] = feeds[t.name!].shape[i];
      });
  return dims;
}

describe("op table", () => {
  it("every op has a shape rule, an evaluation, an ONNX emission and a gradient", () => {
    for (const [op, def] of Object.entries(OPS))
      for (const part of ["shape", "eval", "onnx", "grad"] as const) expect(typeof def[part], `${op}.${part}`).toBe("function");
  });

  it("each op's shape rule gives the shape and dtype its evaluation computes, and every op has a sample", () => {
    const seen = new Set<string>();
    for (const s of samples()) {
      const nodes = liveNodes(s.outputs);
      const tensors = nodes.flatMap((n) => n.outputs);
      const values = evaluate(tensors, { feeds: s.feeds });
      const dims = feedDims(
        nodes.flatMap((n) => n.inputs),
        s.feeds,
      );
      tensors.forEach((t, i) => {
        const op = t.producer!.op;
        seen.add(op);
        expect(values[i].shape, `${s.name}: ${op} -> ${t}`).toEqual(bindShape(t.shape, dims));
        expect(values[i].dtype, `${s.name}: ${op} -> ${t}`).toBe(t.dtype);
      });
    }
    expect(Object.keys(OPS).filter((op) => !seen.has(op))).toEqual([]);
  });
});
