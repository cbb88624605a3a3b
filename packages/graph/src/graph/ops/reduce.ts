/** Reductions over a set of axes (normalised and sorted by the builder), with or without keepdims. */
import type { Graph, Tensor } from "./op.ts";
import type { Dim } from "../shape.ts";
import { floatOnly } from "./elementwise.ts";
import type { GradRule, OpDef, ShapeRule } from "./op.ts";
import { bcastOffsets, size } from "./values.ts";

const reduceShape: ShapeRule = ([x], a) => {
  const axes = a.axes as number[];
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (axes.includes(i)) {
      if (a.keepdims === 1) out.push(1);
    } else out.push(d);
  });
  return [{ dtype: x.dtype, shape: out }];
};

function reduction(kind: "sum" | "mean" | "max", grad: GradRule, float = false): OpDef {
  return {
    cost: "per-input",
    shape: (ins, a, g) => (float && floatOnly(ins[0]), reduceShape(ins, a, g)),
    eval: ([x], c) => {
      const axes = c.attrs.axes as number[];
      const kshape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const shape = c.attrs.keepdims === 1 ? kshape : x.shape.filter((_, i) => !axes.includes(i));
      const offs = bcastOffsets(kshape, x.shape);
      const n = size(kshape);
      const count = size(x.shape) / Math.max(n, 1);
      const acc = new Float64Array(n).fill(kind === "max" ? -Infinity : 0);
      for (let i = 0; i < x.data.length; i++) {
        const v = x.data[i];
        if (kind === "max") {
          if (v > acc[offs[i]] || Number.isNaN(v)) acc[offs[i]] = v;
        } else acc[offs[i]] += v;
      }
      if (kind === "mean") for (let i = 0; i < n; i++) acc[i] /= count;
      return c.out(shape, (o) => o.set(acc));
    },
    // ReduceMean/ReduceMax take `axes` as an attribute up to opset 17 and as an int64 input from
    // 18; ReduceSum as an input since 13
    onnx: (e, n, x, outs) => {
      const axes = n.attrs.axes as number[];
      if (axes.length === 0) return e.emit("Identity", x, outs);
      const kd = e.attr("keepdims", n.attrs.keepdims as number, "int");
      if (kind === "sum" || e.opset >= 18) return e.emit(n.op, [x[0], e.i64(axes)], outs, [kd]);
      e.emit(n.op, x, outs, [e.attr("axes", axes, "ints"), kd]);
    },
    grad,
  };
}

function keepdimsOf(g: Graph, t: Tensor, axes: number[], keepdims: boolean): Tensor {
  return keepdims || axes.length === 0 ? t : g.unsqueeze(t, axes);
}

/** Number of elements reduced, as a scalar tensor (constant when static). */
function reduceCount(g: Graph, x: Tensor, axes: number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === "number"))
    return g.scalar(
      (dims as number[]).reduce((s, d) => s * d, 1),
      x.dtype,
    );
  return g.reduceSum(g.expandLike(g.scalar(1, x.dtype), x), axes, true);
}

export const REDUCE_OPS = {
  ReduceSum: reduction("sum", ({ g, x, gy, node }) => {
    const axes = node.attrs.axes as number[];
    return [g.expandLike(keepdimsOf(g, gy[0]!, axes, node.attrs.keepdims === 1), x[0])];
  }),
  ReduceMean: reduction(
    "mean",
    ({ g, x, gy, node }) => {
      const axes = node.attrs.axes as number[];
      const G = keepdimsOf(g, gy[0]!, axes, node.attrs.keepdims === 1);
      return [g.expandLike(g.div(G, reduceCount(g, x[0], axes)), x[0])];
    },
    true,
  ),
  ReduceMax: reduction("max", ({ g, x, y, gy, node }) => {
    const axes = node.attrs.axes as number[];
    const kd = node.attrs.keepdims === 1;
    const Y = keepdimsOf(g, y[0], axes, kd);
    const G = keepdimsOf(g, gy[0]!, axes, kd);
    const mask = g.equal(x[0], Y);
    const cnt = g.reduceSum(g.cast(mask, x[0].dtype), axes, true);
    // ties share the gradient equally
    return [g.where(mask, g.div(G, cnt), 0)];
  }),
} satisfies Record<string, OpDef>;
