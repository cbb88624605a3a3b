/** Indexing: Gather (rows of an axis), GatherElements and ScatterElements (element-wise along an axis). */
import { GraphError } from "../error.ts";
import type { Graph, Tensor } from "./op.ts";
import { ShapeError, dimEq, fmtShape, isStatic, stridesOf } from "../shape.ts";
import { sameDtype } from "./elementwise.ts";
import { inversePerm } from "./gradients.ts";
import type { EvalRule, OpDef } from "./op.ts";
import { type Value, size } from "./values.ts";

function checkIndices(g: Graph, t: Tensor) {
  if (t.dtype === "int64" && !g.options.allowInt64Indices)
    throw new ShapeError(
      `indices ${t} are int64; use int32 (int64 indexing leaves the GPU on WebGPU). ` + `Set Graph options.allowInt64Indices to override.`,
    );
  if (t.dtype !== "int32" && t.dtype !== "int64") throw new ShapeError(`indices must be int32, got ${t}`);
}

/** For flat index i of `idx`, the flat offset in `x` with the axis coordinate replaced by idx[i]. */
function elementTarget(op: string, x: Value, idx: Value, ax: number): (i: number) => number {
  const L = x.shape[ax];
  const xs = stridesOf(x.shape);
  const is = idx.shape;
  return (i) => {
    let rem = i;
    let off = 0;
    for (let d = is.length - 1; d >= 0; d--) {
      const c = rem % is[d];
      rem = (rem - c) / is[d];
      if (d === ax) {
        let k = idx.data[i];
        if (k < 0) k += L;
        if (k < 0 || k >= L) throw new GraphError(`${op}: index ${idx.data[i]} out of range [0, ${L})`);
        off += k * xs[d];
      } else off += c * xs[d];
    }
    return off;
  };
}

const gatherElements: EvalRule = ([x, idx], c) => {
  const target = elementTarget("GatherElements", x, idx, c.attrs.axis as number);
  return c.out([...idx.shape], (o) => {
    for (let i = 0; i < o.length; i++) o[i] = x.data[target(i)];
  });
};

/** Gradient of Gather wrt data: ScatterElements(add) of the rows into zeros (fp32, on the GPU). */
function gatherGrad(g: Graph, data: Tensor, idx: Tensor, G: Tensor, axis: number): Tensor {
  if (!isStatic(data.shape)) throw new GraphError(`Gather gradient needs a static data shape, got ${fmtShape(data.shape)}`);
  const shape = data.shape as readonly number[];
  if (axis !== 0) {
    // move the gathered axis to the front, then transpose the result back
    const r = data.rank;
    const perm = [axis, ...[...Array(r).keys()].filter((i) => i !== axis)];
    const dataT = g.transpose(data, perm);
    // gy: [pre..., idx..., post...] -> [idx..., pre..., post...]
    const ir = idx.rank;
    const gPerm = [
      ...Array.from({ length: ir }, (_, i) => axis + i),
      ...Array.from({ length: axis }, (_, i) => i),
      ...Array.from({ length: r - axis - 1 }, (_, i) => axis + ir + i),
    ];
    const gradT = gatherGrad(g, dataT, idx, g.transpose(G, gPerm), 0);
    return g.transpose(gradT, inversePerm(perm));
  }
  const V = shape[0];
  const R = shape.slice(1).reduce((s, d) => s * d, 1);
  const g2 = g.reshape(G, [-1, R]);
  const i2 = g.reshape(idx, [-1, 1]);
  const iE = R === 1 ? i2 : g.expand(i2, [i2.shape[0], R]);
  const acc = g.scatterElements(g.zeros([V, R], G.dtype), iE, g2, 0, "add");
  return shape.length === 2 ? acc : g.reshape(acc, shape as number[]);
}

export const INDEXING_OPS = {
  Gather: {
    cost: "free",
    shape: ([x, idx], a, g) => {
      checkIndices(g, idx);
      const ax = a.axis as number;
      return [{ dtype: x.dtype, shape: [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)] }];
    },
    eval: ([x, idx], c) => {
      const ax = c.attrs.axis as number;
      const L = x.shape[ax];
      const inner = size(x.shape.slice(ax + 1));
      const outer = size(x.shape.slice(0, ax));
      const ni = idx.data.length;
      return c.out([...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)], (o) => {
        for (let p = 0; p < outer; p++)
          for (let j = 0; j < ni; j++) {
            let k = idx.data[j];
            if (k < 0) k += L;
            if (k < 0 || k >= L) throw new GraphError(`Gather: index ${idx.data[j]} out of range [0, ${L})`);
            const src = (p * L + k) * inner;
            const dst = (p * ni + j) * inner;
            for (let q = 0; q < inner; q++) o[dst + q] = x.data[src + q];
          }
      });
    },
    onnx: (e, n, x, outs) => e.emit(n.op, x, outs, [e.attr("axis", n.attrs.axis as number, "int")]),
    grad: ({ g, x, gy, node }) => [gatherGrad(g, x[0], x[1], gy[0]!, node.attrs.axis as number), undefined],
  },
  GatherElements: {
    shape: ([x, idx], a, g) => {
      checkIndices(g, idx);
      if (idx.rank !== x.rank) throw new ShapeError(`rank of indices ${idx} != rank of data ${x}`);
      const ax = a.axis as number;
      x.shape.forEach((d, i) => {
        if (
          i !== ax &&
          !dimEq(d, idx.shape[i]) &&
          idx.shape[i] !== 1 &&
          typeof idx.shape[i] === "number" &&
          typeof d === "number" &&
          idx.shape[i] > d
        )
          throw new ShapeError(`indices ${idx} larger than data ${x} on axis ${i}`);
      });
      return [{ dtype: x.dtype, shape: idx.shape }];
    },
    eval: gatherElements,
    onnx: (e, n, x, outs) => e.emit(n.op, x, outs, [e.attr("axis", n.attrs.axis as number, "int")]),
    grad: ({ g, x, gy, node }) => {
      const [data, idx] = x;
      const ax = node.attrs.axis as number;
      const G = gy[0]!;
      const L = data.shape[ax];
      const sameOff = data.shape.every((d, i) => i === ax || dimEq(d, idx.shape[i]));
      if (typeof L === "number" && idx.shape[ax] === 1 && sameOff) {
        // one-hot form (no scatter): d/dx = where(iota == idx, gy, 0)
        const iotaShape = data.shape.map((_, i) => (i === ax ? L : 1));
        const iota = g.constant(
          Array.from({ length: L }, (_, i) => i),
          iotaShape as number[],
          idx.dtype,
        );
        return [g.where(g.equal(iota, idx), G, 0), undefined];
      }
      return [g.scatterElements(g.zerosLike(data), idx, G, ax, "add"), undefined];
    },
  },
  /** ScatterElements reduction="add" needs opset >= 16. */
  ScatterElements: {
    shape: ([x, idx, upd], _a, g) => {
      checkIndices(g, idx);
      if (idx.rank !== x.rank || !idx.shape.every((d, i) => dimEq(d, upd.shape[i])))
        throw new ShapeError(`indices ${idx} and updates ${upd} must match, rank ${x.rank}`);
      sameDtype([x, upd]);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    eval: ([x, idx, upd], c) => {
      const target = elementTarget("ScatterElements", x, idx, c.attrs.axis as number);
      const add = c.attrs.reduction === "add";
      return c.out([...x.shape], (o) => {
        o.set(x.data);
        for (let i = 0; i < idx.data.length; i++) {
          const t = target(i);
          o[t] = add ? o[t] + upd.data[i] : upd.data[i];
        }
      });
    },
    onnx: (e, n, x, outs) => {
      const at = [e.attr("axis", n.attrs.axis as number, "int")];
      if (n.attrs.reduction !== "none") at.push(e.attr("reduction", n.attrs.reduction as string, "string"));
      e.emit(n.op, x, outs, at);
    },
    grad: ({ g, x, gy, node, needs }) => {
      const [, idx, upd] = x;
      const ax = node.attrs.axis as number;
      const G = gy[0]!;
      const gData = needs[0] ? (node.attrs.reduction === "add" ? G : g.scatterElements(G, idx, g.zerosLike(upd), ax, "none")) : undefined;
      return [gData, undefined, needs[2] ? g.gatherElements(G, idx, ax) : undefined];
    },
  },
} satisfies Record<string, OpDef>;
