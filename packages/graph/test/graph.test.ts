import { describe, expect, it } from "vitest";
import { grad } from "../src/graph/autodiff.ts";
import { compile } from "../src/graph/compile.ts";
import { Graph, GraphError, type Tensor } from "../src/graph/graph.ts";
import { countFlops } from "../src/graph/flops.ts";
import { evaluate } from "../src/graph/interpreter.ts";
import { toOnnx } from "../src/graph/onnx.ts";
import { encodeExpand, encodeReshape } from "../src/graph/ops/shaping.ts";
import { PbWriter } from "../src/graph/protobuf.ts";
import { optimize } from "../src/graph/simplify.ts";
import { broadcastShapes, dimDiv, dimProd } from "../src/graph/shape.ts";
import { lcg } from "../src/toy-models.ts";

describe("shape and dtype inference", () => {
  it("broadcasts numpy-style with symbolic dims", () => {
    expect(broadcastShapes(["B", 1, 4], [3, 1])).toEqual(["B", 3, 4]);
    expect(() => broadcastShapes(["B", 4], ["T", 4])).toThrow(/cannot broadcast/);
    expect(dimProd(["T", "B", 2])).toBe("2*B*T");
    expect(dimDiv("2*B*T", "T")).toBe("2*B");
  });

  it("infers batched matmul, reshape with -1 and 0, transpose, gather, slice", () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["B", "T", 8]);
    const w = g.param("w", [8, 6]);
    const y = x.matmul(w);
    expect(y.shape).toEqual(["B", "T", 6]);
    expect(g.reshape(y, [0, 0, 2, 3]).shape).toEqual(["B", "T", 2, 3]);
    expect(g.reshape(y, [-1, 6]).shape).toEqual(["B*T", 6]);
    expect(g.transpose(y, [2, 0, 1]).shape).toEqual([6, "B", "T"]);
    const e = g.param("e", [10, 4]);
    expect(g.gather(e, g.input("ids", "int32", ["B", "T"])).shape).toEqual(["B", "T", 4]);
    expect(g.slice(y, [1], [4], [2]).shape).toEqual(["B", "T", 3]);
    expect(g.matmul(g.input("a", "float32", [2, 1, 3, 4]), g.input("b", "float32", [5, 4, 2])).shape).toEqual([2, 5, 3, 2]);
  });

  it("fails at build time with clear messages", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2, 3]);
    expect(() => g.matmul(x, g.input("w", "float32", [4, 5]))).toThrow(/inner dims differ/);
    expect(() => g.matmul(x, g.input("v", "float32", [3]))).toThrow(/rank >= 2/);
    expect(() => g.add(x, g.input("y", "float32", [4]))).toThrow(/cannot broadcast/);
    expect(() => g.add(x, g.input("i", "int32", [2, 3]))).toThrow(/dtype mismatch/);
    expect(() => g.gather(g.param("t", [5, 2]), g.input("i64", "int64", [3]))).toThrow(/int64; use int32/);
    expect(() => g.reshape(x, [4, 2])).toThrow(/has 6 elements/);
    expect(() => g.log(g.input("n", "int32", [2]))).toThrow(/float/);
    expect(() => g.transpose(x, [0, 0])).toThrow(/bad perm/);
    expect(() => g.squeeze(x, 0)).toThrow(/is not 1/);
    expect(() => g.input("x", "float32", [1])).toThrow(/duplicate/);
    expect(() => g.softmax(x, 2)).toThrow(/out of range/);
    expect(() => g.where(x, x, 0)).toThrow(/condition must be bool/);
    expect(() => new Graph().add(x, x)).toThrow(GraphError);
    const ok = new Graph({ allowInt64Indices: true });
    expect(ok.gather(ok.param("t", [5, 2]), ok.input("i", "int64", [3])).shape).toEqual([3, 2]);
  });
});

describe("kernel operand limits", () => {
  it("concat/split of many tensors become trees of at most 7 operands (WebGPU binds 8 storage buffers)", () => {
    const g = new Graph();
    const xs = Array.from({ length: 20 }, (_, i) => g.input(`x${i}`, "float32", [2, 1 + (i % 3)]));
    const c = g.concat(xs, 1);
    const parts = g.split(
      c,
      xs.map((x) => x.shape[1] as number),
      1,
    );
    expect(parts.length).toBe(20);
    for (const n of g.nodes) expect(Math.max(n.inputs.length, n.outputs.length)).toBeLessThanOrEqual(7);
    const feeds = Object.fromEntries(xs.map((x, i) => [x.name!, Array.from({ length: 2 * (1 + (i % 3)) }, (_, k) => i * 10 + k)]));
    const vals = evaluate(parts, { feeds });
    vals.forEach((v, i) => expect(Array.from(v.data)).toEqual(feeds[`x${i}`]));
  });
});

describe("simplification", () => {
  it("CSE merges duplicate subgraphs, folds constants, drops dead nodes, keeps results", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [4]);
    const a = g.exp(g.mul(x, 2));
    const b = g.exp(g.mul(x, 2)); // duplicate
    const k = g.add(g.constant([1, 2, 3, 4], [4]), g.scalar(1)); // constant
    g.sqrt(x); // dead
    const y = g.add(g.add(a, b), g.mul(k, 1)); // x*1 identity
    const r = optimize({ y });
    const ops = r.graph.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "Exp").length).toBe(1);
    expect(ops).not.toContain("Sqrt");
    expect(r.stats.folded).toBeGreaterThan(0);
    expect(r.stats.cse).toBeGreaterThanOrEqual(2);
    expect(r.stats.nodesAfter).toBe(4); // Mul, Exp, Add, Add
    const feeds = { x: [0.1, 0.2, 0.3, 0.4] };
    expect(Array.from(evaluate([r.outputs.y], { feeds })[0].data)).toEqual(Array.from(evaluate([y], { feeds })[0].data));
  });

  it("CSE merges a commutative op's swapped inputs (the op table's commutative flag), not a non-commutative one's", () => {
    const g = new Graph();
    const a = g.input("a", "float32", [3]);
    const b = g.input("b", "float32", [3]);
    const y = g.concat([g.add(a, b), g.add(b, a), g.sub(a, b), g.sub(b, a)], 0);
    const ops = optimize({ y }).graph.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "Add")).toHaveLength(1);
    expect(ops.filter((o) => o === "Sub")).toHaveLength(2);
  });

  it("countFlops charges each op by its table entry: matrix products 2·M·N·K, reductions per input, data movement nothing", () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["B", 3]);
    const w = g.param("w", [3, 4]);
    const h = g.reshape(g.exp(x.matmul(w)), ["B", 2, 2]); // MatMul B·4 outputs × K=3, Exp B·4, Reshape free
    const y = g.reduceSum(h, [1, 2]); // per input: B·4
    expect(countFlops({ y }, { B: 5 })).toEqual({ matmul: 2 * 5 * 4 * 3, other: 5 * 4 + 5 * 4 });
  });

  it("the backward graph of a model has no duplicate nodes after optimisation", () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["B", 5]);
    const w = g.param("w", [5, 5]);
    const h = g.tanh(x.matmul(w));
    const loss = g.reduceMean(g.mul(h, h));
    const [gw] = grad(loss, [w]);
    const r = optimize({ loss, gw });
    const keys = r.graph.nodes.map((n) => `${n.op}|${n.inputs.map((t) => t.id)}|${JSON.stringify(n.attrs)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("simplification rules for the GPU (each checked against the unsimplified graph)", () => {
  const feedsOf = (shape: number[], seed: number) => {
    const r = lcg(seed);
    return { dtype: "float32" as const, shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1) };
  };
  const same = (outs: Record<string, Tensor>, feeds: Record<string, ReturnType<typeof feedsOf>>) => {
    const r = optimize(outs);
    const names = Object.keys(outs);
    const want = evaluate(
      names.map((n) => outs[n]),
      { feeds },
    );
    const got = evaluate(
      names.map((n) => r.outputs[n]),
      { feeds },
    );
    names.forEach((_, i) => {
      expect(got[i].shape).toEqual(want[i].shape);
      got[i].data.forEach((v, j) => expect(v).toBeCloseTo(Number(want[i].data[j]), 12));
    });
    return r.graph.nodes.map((n) => n.op);
  };

  it("a rank-3 activation times a weight: dX and dW are Gemms with no Transpose", () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["B", "T", 4]);
    const w = g.input("w", "float32", [4, 3]);
    const y = g.matmul(x, w);
    const [gx, gw] = grad(g.reduceSum(g.mul(y, y)), [x, w]);
    const ops = same({ gx, gw }, { x: feedsOf([2, 5, 4], 1), w: feedsOf([4, 3], 2) });
    expect(ops).not.toContain("Transpose");
    expect(ops.filter((o) => o === "Gemm").length).toBe(2);
  });

  it("view(p) + view(q) -> view(p + q), a view of a view back to its base is the base", () => {
    const g = new Graph();
    const p = g.input("p", "float32", ["B*T", 4]);
    const q = g.input("q", "float32", ["B*T", 4]);
    const ref = g.input("ref", "float32", ["B", "T", 4]);
    const s = g.add(g.reshapeLike(p, ref), g.reshapeLike(q, ref));
    const back = g.reshape(g.reshapeLike(g.exp(p), ref), [-1, 4]);
    const ops = same({ s, back }, { p: feedsOf([6, 4], 3), q: feedsOf([6, 4], 4), ref: feedsOf([2, 3, 4], 5) });
    expect(ops.filter((o) => o === "ReshapeLike").length).toBe(1);
    expect(ops).not.toContain("Reshape");
  });

  it("a scalar Mul folds into a Gemm's alpha (through a view) and an Add into its C", () => {
    const g = new Graph();
    const a = g.input("a", "float32", [6, 4]);
    const b = g.input("b", "float32", [3, 4]);
    const z = g.input("z", "float32", [6, 3]);
    const ref = g.input("ref", "float32", [2, 3, 3]);
    const scaled = g.mul(g.reshapeLike(g.gemm(a, b, { transB: true }), ref), 2);
    const summed = g.add(z, g.gemm(a, b, { transB: true, alpha: 0.5 }));
    const ops = same(
      { scaled, summed },
      { a: feedsOf([6, 4], 6), b: feedsOf([3, 4], 7), z: feedsOf([6, 3], 8), ref: feedsOf([2, 3, 3], 9) },
    );
    expect(ops.filter((o) => o === "Gemm").length).toBe(2);
    expect(ops).not.toContain("Mul");
    expect(ops).not.toContain("Add");
  });

  it("a Gemm read twice is not duplicated to fuse one of its uses", () => {
    const g = new Graph();
    const a = g.input("a", "float32", [2, 2]);
    const m = g.gemm(a, a);
    const ops = same({ y: g.add(g.mul(m, 3), m) }, { a: feedsOf([2, 2], 10) });
    expect(ops.filter((o) => o === "Gemm").length).toBe(1);
  });
});

describe("ONNX emission", () => {
  it("protobuf varints, negative int64 and nesting", () => {
    expect(Array.from(new PbWriter().varint(300).finish())).toEqual([0xac, 0x02]);
    expect(Array.from(new PbWriter().int(1, -1).finish())).toEqual([8, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
    const inner = new PbWriter().string(1, "ab");
    expect(Array.from(new PbWriter().message(2, inner).finish())).toEqual([0x12, 4, 0x0a, 2, 97, 98]);
  });
  it("encodes symbolic reshapes and expands with 0/-1/1, or explains why not", () => {
    expect(encodeReshape(["B", "T", 8], ["B", "T", 2, 4])).toEqual([0, 0, 2, 4]);
    expect(encodeReshape(["B", "T", 8], ["B*T", 8])).toEqual([-1, 8]);
    expect(() => encodeReshape(["B*T", 8], ["B", "T", 8])).toThrow(/bind dims/);
    expect(encodeExpand(["B", 1], ["B", 6])).toEqual([1, 6]);
  });
  it("params become initializers or inputs as the caller chooses; opset 17 vs 18 axes", () => {
    const g = new Graph();
    const x = g.input("x", "float32", ["N", 3]);
    const w = g.param("w", [3, 2], { init: [1, 2, 3, 4, 5, 6] });
    const y = g.reduceMean(x.matmul(w), 1);
    const asInputs = toOnnx({ y });
    const asInits = toOnnx({ y }, { paramsAsInputs: false });
    expect(asInputs.inputs.map((i) => i.name)).toEqual(["x", "w"]);
    expect(asInits.inputs.map((i) => i.name)).toEqual(["x"]);
    expect(asInits.initializerBytes).toBeGreaterThanOrEqual(24);
    const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");
    expect(text(toOnnx({ y }, { opset: 17 }).bytes)).toMatch(/axes/); // attribute
    expect(toOnnx({ y }, { dims: { N: 4 } }).inputs[0].shape).toEqual([4, 3]);
    expect(compile({ y }).nodeCount).toBeGreaterThan(0);
  });
});
