/**
 * Reverse-mode automatic differentiation. `grad(loss, params)` appends the backward graph to the
 * loss's graph and returns one gradient tensor per param. Every op has one rule in GRAD_RULES:
 * given the op's inputs x, outputs y and the output gradients gy, return the input gradients.
 */
import { isFloat } from "./dtype.ts";
import { type Graph, GraphError, type Node, type Tensor, clampSlice, liveNodes } from "./graph.ts";
import { broadcastAxes, canonDim, dimEq, fmtShape, isStatic } from "./shape.ts";

export interface GradCtx {
  g: Graph;
  node: Node;
  x: Tensor[];
  y: Tensor[];
  /** Gradient of each output (undefined: that output does not reach the loss). */
  gy: (Tensor | undefined)[];
  /** Whether input i needs a gradient (rules may skip the others). */
  needs: boolean[];
}

export type GradRule = (c: GradCtx) => (Tensor | undefined)[];

const END = 2 ** 31 - 1;

/** Sum `t` over the axes along which `like` was broadcast to t's shape. */
export function unbroadcast(g: Graph, t: Tensor, like: Tensor): Tensor {
  if (t.rank === like.rank && t.shape.every((d, i) => dimEq(d, like.shape[i]))) return t;
  const { reduce, leading } = broadcastAxes(like.shape, t.shape);
  let r = reduce.length ? g.reduceSum(t, reduce, true) : t;
  if (leading > 0)
    r = g.squeeze(
      r,
      Array.from({ length: leading }, (_, i) => i),
    );
  return r;
}

function transposeLast2(g: Graph, t: Tensor): Tensor {
  const p = t.shape.map((_, i) => i);
  [p[t.rank - 2], p[t.rank - 1]] = [p[t.rank - 1], p[t.rank - 2]];
  return g.transpose(t, p);
}

function constScalar(t: Tensor): number | undefined {
  if (t.kind === "const" && t.data && t.data.length === 1) return Number(t.data[0]);
  return undefined;
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

const unary =
  (f: (c: GradCtx, gy: Tensor) => Tensor): GradRule =>
  (c) => [f(c, c.gy[0]!)];

/** The gradient rules, one per op. */
export const GRAD_RULES: Record<string, GradRule> = {
  Identity: (c) => [c.gy[0]],
  StopGradient: () => [undefined],
  CustomGradient: ({ g, node, gy, needs }) => [undefined, ...g.customGradRules.get(node.id)!(gy[0]!, needs.slice(1))],
  Neg: unary(({ g }, gy) => g.neg(gy)),
  Abs: unary(({ g, x }, gy) => g.where(g.greater(x[0], 0), gy, g.where(g.less(x[0], 0), g.neg(gy), 0))),
  Exp: unary(({ g, y }, gy) => g.mul(gy, y[0])),
  Log: unary(({ g, x }, gy) => g.div(gy, x[0])),
  Sqrt: unary(({ g, y }, gy) => g.mul(g.div(gy, y[0]), 0.5)),
  Reciprocal: unary(({ g, y }, gy) => g.neg(g.mul(gy, g.mul(y[0], y[0])))),
  Sigmoid: unary(({ g, y }, gy) => g.mul(gy, g.sub(y[0], g.mul(y[0], y[0])))),
  Tanh: unary(({ g, y }, gy) => g.mul(gy, g.sub(1, g.mul(y[0], y[0])))),
  Erf: unary(({ g, x }, gy) => g.mul(gy, g.mul(g.exp(g.neg(g.mul(x[0], x[0]))), 2 / Math.sqrt(Math.PI)))),
  Relu: unary(({ g, x }, gy) => g.where(g.greater(x[0], 0), gy, 0)),

  Add: ({ g, x, gy, needs }) => [needs[0] ? unbroadcast(g, gy[0]!, x[0]) : undefined, needs[1] ? unbroadcast(g, gy[0]!, x[1]) : undefined],
  Sub: ({ g, x, gy, needs }) => [
    needs[0] ? unbroadcast(g, gy[0]!, x[0]) : undefined,
    needs[1] ? unbroadcast(g, g.neg(gy[0]!), x[1]) : undefined,
  ],
  Mul: ({ g, x, gy, needs }) => [
    needs[0] ? unbroadcast(g, g.mul(gy[0]!, x[1]), x[0]) : undefined,
    needs[1] ? unbroadcast(g, g.mul(gy[0]!, x[0]), x[1]) : undefined,
  ],
  Div: ({ g, x, y, gy, needs }) => [
    needs[0] ? unbroadcast(g, g.div(gy[0]!, x[1]), x[0]) : undefined,
    needs[1] ? unbroadcast(g, g.neg(g.div(g.mul(gy[0]!, y[0]), x[1])), x[1]) : undefined,
  ],
  Pow: ({ g, x, y, gy, needs }) => {
    const [a, b] = x;
    const G = gy[0]!;
    let ga: Tensor | undefined;
    if (needs[0]) {
      const c = constScalar(b);
      if (c === 2) ga = g.mul(G, g.mul(a, 2));
      else if (c === 1) ga = G;
      else if (c === 0.5) ga = g.mul(g.div(G, y[0]), 0.5);
      else if (c !== undefined) ga = g.mul(G, g.mul(g.pow(a, c - 1), c));
      else ga = g.mul(G, g.mul(g.pow(a, g.sub(b, 1)), b));
      ga = unbroadcast(g, ga, a);
    }
    const gb = needs[1] ? unbroadcast(g, g.mul(G, g.mul(y[0], g.log(a))), b) : undefined;
    return [ga, gb];
  },
  Max: ({ g, x, gy, needs }) => minmax(g, x, gy[0]!, needs, "max"),
  Min: ({ g, x, gy, needs }) => minmax(g, x, gy[0]!, needs, "min"),
  Where: ({ g, x, gy, needs }) => {
    const [c, a, b] = x;
    const G = gy[0]!;
    return [
      undefined,
      needs[1] ? unbroadcast(g, g.where(c, G, 0), a) : undefined,
      needs[2] ? unbroadcast(g, g.where(c, 0, G), b) : undefined,
    ];
  },
  Cast: ({ g, x, gy }) => [isFloat(x[0].dtype) ? g.cast(gy[0]!, x[0].dtype) : undefined],

  MatMul: ({ g, x, gy, needs }) => {
    const [a, b] = x;
    const G = gy[0]!;
    let ga: Tensor | undefined;
    let gb: Tensor | undefined;
    if (needs[0]) {
      if (b.rank === 2 && a.rank >= 2 && a.dtype !== "float16") {
        // rows @ weight: [B*T, N] @ [K, N]ᵀ with the weight's transpose read in place (no
        // Transpose kernel per step, even for a frozen weight), viewed back as a's shape. Not in
        // fp16: onnxruntime's fp16 Gemm overflowed on loss-scaled gradients where MatMul did not
        // (wasm; mixed-precision.test.ts skipped steps)
        const g2 = G.rank === 2 ? G : g.reshape(G, [-1, G.shape[G.rank - 1]]);
        ga = g.reshapeLike(g.gemm(g2, b, { transB: true }), a);
      } else ga = unbroadcast(g, g.matmul(G, transposeLast2(g, b)), a);
    }
    if (needs[1]) {
      if (b.rank === 2 && a.rank >= 2) {
        // weight gradient as one large product, [B*T, K]ᵀ @ [B*T, N], the transpose read in place
        const a2 = a.rank === 2 ? a : g.reshape(a, [-1, a.shape[a.rank - 1]]);
        const g2 = G.rank === 2 ? G : g.reshape(G, [-1, G.shape[G.rank - 1]]);
        gb = g.gemm(a2, g2, { transA: true });
      } else gb = unbroadcast(g, g.matmul(transposeLast2(g, a), G), b);
    }
    return [ga, gb];
  },
  Gemm: ({ g, x, gy, node, needs }) => {
    // Y = α op(A) op(B) + C: d op(A) = α G op(B)ᵀ, d op(B) = α op(A)ᵀ G, each transposed back if
    // op transposes; dC = G summed over C's broadcast axes
    const [a, b, c] = x;
    const G = gy[0]!;
    const tA = node.attrs.transA === 1;
    const tB = node.attrs.transB === 1;
    const alpha = (node.attrs.alpha as number | undefined) ?? 1;
    return [
      needs[0] ? (tA ? g.gemm(b, G, { transA: tB, transB: true, alpha }) : g.gemm(G, b, { transB: !tB, alpha })) : undefined,
      needs[1] ? (tB ? g.gemm(G, a, { transA: true, transB: tA, alpha }) : g.gemm(a, G, { transA: !tA, alpha })) : undefined,
      c && needs[2] ? unbroadcast(g, G, c) : undefined,
    ];
  },
  SimplifiedLayerNormalization: ({ g, x, gy, node, needs }) => {
    // y = x̂ w with x̂ = x r, r = (mean(x²) + eps)^-1/2 per row: dx = r (gx̂ - x̂ mean(gx̂ x̂)),
    // gx̂ = gy w; r is recomputed here (the WebGPU EP's inv_std_var output is not usable)
    const [X, W] = x;
    const G = gy[0]!;
    const r = g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(X, X), -1, true), node.attrs.epsilon as number)));
    const xhat = g.mul(X, r);
    let gx: Tensor | undefined;
    if (needs[0]) {
      const gxhat = g.mul(G, W);
      gx = g.mul(g.sub(gxhat, g.mul(xhat, g.reduceMean(g.mul(gxhat, xhat), -1, true))), r);
    }
    return [gx, needs[1] ? unbroadcast(g, g.mul(G, xhat), W) : undefined];
  },
  Softmax: ({ g, y, gy, node }) => {
    const ax = node.attrs.axis as number;
    const Y = y[0];
    const G = gy[0]!;
    return [g.mul(Y, g.sub(G, g.reduceSum(g.mul(G, Y), ax, true)))];
  },
  ReduceSum: ({ g, x, gy, node }) => {
    const axes = node.attrs.axes as number[];
    return [g.expandLike(keepdimsOf(g, gy[0]!, axes, node.attrs.keepdims === 1), x[0])];
  },
  ReduceMean: ({ g, x, gy, node }) => {
    const axes = node.attrs.axes as number[];
    const G = keepdimsOf(g, gy[0]!, axes, node.attrs.keepdims === 1);
    return [g.expandLike(g.div(G, reduceCount(g, x[0], axes)), x[0])];
  },
  ReduceMax: ({ g, x, y, gy, node }) => {
    const axes = node.attrs.axes as number[];
    const kd = node.attrs.keepdims === 1;
    const Y = keepdimsOf(g, y[0], axes, kd);
    const G = keepdimsOf(g, gy[0]!, axes, kd);
    const mask = g.equal(x[0], Y);
    const cnt = g.reduceSum(g.cast(mask, x[0].dtype), axes, true);
    // ties share the gradient equally
    return [g.where(mask, g.div(G, cnt), 0)];
  },

  Gather: ({ g, x, gy, node }) => [gatherGrad(g, x[0], x[1], gy[0]!, node.attrs.axis as number), undefined],
  GatherElements: ({ g, x, gy, node }) => {
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
  ScatterElements: ({ g, x, gy, node, needs }) => {
    const [, idx, upd] = x;
    const ax = node.attrs.axis as number;
    const G = gy[0]!;
    const gData = needs[0] ? (node.attrs.reduction === "add" ? G : g.scatterElements(G, idx, g.zerosLike(upd), ax, "none")) : undefined;
    return [gData, undefined, needs[2] ? g.gatherElements(G, idx, ax) : undefined];
  },

  Reshape: ({ g, x, gy }) => [g.reshapeLike(gy[0]!, x[0])],
  ReshapeLike: ({ g, x, gy }) => [g.reshapeLike(gy[0]!, x[0]), undefined],
  ExpandLike: ({ g, x, gy }) => [unbroadcast(g, gy[0]!, x[0]), undefined],
  Expand: ({ g, x, gy }) => [unbroadcast(g, gy[0]!, x[0])],
  Transpose: ({ g, gy, node }) => {
    const perm = node.attrs.perm as number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [g.transpose(gy[0]!, inv)];
  },
  Unsqueeze: ({ g, gy, node }) => [g.squeeze(gy[0]!, node.attrs.axes as number[])],
  Squeeze: ({ g, gy, node }) => [g.unsqueeze(gy[0]!, node.attrs.axes as number[])],
  Trilu: ({ g, gy, node }) => [g.trilu(gy[0]!, node.attrs.upper === 1, node.attrs.k as number)],
  Slice: ({ g, x, gy, node }) => {
    const X = x[0];
    const a = node.attrs;
    const axes = a.axes as number[];
    const pads = new Array<number>(2 * X.rank).fill(0);
    axes.forEach((ax, i) => {
      const d = X.shape[ax];
      const st = (a.steps as number[])[i];
      const s0 = (a.starts as number[])[i];
      const e0 = (a.ends as number[])[i];
      if (st !== 1) throw new GraphError(`Slice gradient: step ${st} is not supported (use step 1)`);
      if (typeof d === "number") {
        const [s, e] = clampSlice(d, s0, e0, 1);
        pads[ax] = s;
        pads[ax + X.rank] = d - Math.max(e, s);
      } else {
        if (s0 < 0 || e0 < END) throw new GraphError(`Slice gradient on symbolic dim ${d} needs start >= 0 and no end; bind dims`);
        pads[ax] = s0;
      }
    });
    return [g.pad(gy[0]!, pads)];
  },
  Pad: ({ g, x, gy, node }) => {
    const pads = node.attrs.pads as number[];
    const r = x[0].rank;
    const axes = [...Array(r).keys()].filter((i) => pads[i] || pads[i + r]);
    if (!axes.length) return [gy[0]];
    return [
      g.slice(
        gy[0]!,
        axes.map((i) => pads[i]),
        axes.map((i) => (pads[i + r] ? -pads[i + r] : END)),
        axes,
      ),
    ];
  },
  Concat: ({ g, x, gy, node }) => {
    const ax = node.attrs.axis as number;
    const sizes = x.map((t) => t.shape[ax]);
    if (sizes.every((d) => typeof d === "number")) return g.split(gy[0]!, sizes as number[], ax);
    let off = 0;
    return x.map((t, i) => {
      const d = t.shape[ax];
      if (typeof d !== "number" && i !== x.length - 1)
        throw new GraphError(`Concat gradient: symbolic size ${d} not last on axis ${ax}; bind dims`);
      const s = off;
      off += typeof d === "number" ? d : 0;
      return g.slice(gy[0]!, [s], [typeof d === "number" ? s + d : END], [ax]);
    });
  },
  Split: ({ g, y, gy, node }) => {
    const parts = y.map((t, i) => gy[i] ?? g.zerosLike(t));
    return [g.concat(parts, node.attrs.axis as number)];
  },
};

function minmax(g: Graph, x: Tensor[], G: Tensor, needs: boolean[], kind: "max" | "min"): (Tensor | undefined)[] {
  const [a, b] = x;
  const wins = (p: Tensor, q: Tensor) => (kind === "max" ? g.greater(p, q) : g.less(p, q));
  const tie = g.equal(a, b);
  const half = g.mul(G, 0.5);
  const part = (p: Tensor, q: Tensor) => g.where(wins(p, q), G, g.where(tie, half, 0));
  return [needs[0] ? unbroadcast(g, part(a, b), a) : undefined, needs[1] ? unbroadcast(g, part(b, a), b) : undefined];
}

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
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return g.transpose(gradT, inv);
  }
  const V = shape[0];
  const R = shape.slice(1).reduce((s, d) => s * d, 1);
  const g2 = g.reshape(G, [-1, R]);
  const i2 = g.reshape(idx, [-1, 1]);
  const iE = R === 1 ? i2 : g.expand(i2, [i2.shape[0], R]);
  const acc = g.scatterElements(g.zeros([V, R], G.dtype), iE, g2, 0, "add");
  return shape.length === 2 ? acc : g.reshape(acc, shape as number[]);
}

export interface GradOptions {
  /** Gradient of the loss (default: ones, i.e. d loss / d loss = 1). */
  seed?: Tensor;
}

/**
 * Append the backward graph of `loss` and return d loss / d wrt[i] for each i. Tensors that do
 * not reach the loss get zeros. Only float tensors carry gradients.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphError(`grad: loss ${loss} is not float`);
  const nodes = liveNodes([loss]);
  const dep = new Set(wrt.map((t) => t.id));
  for (const n of nodes) {
    if (n.op === "StopGradient") continue;
    if (n.inputs.some((i) => dep.has(i.id))) for (const o of n.outputs) if (isFloat(o.dtype)) dep.add(o.id);
  }
  const contrib = new Map<number, Tensor[]>();
  const total = (t: Tensor): Tensor | undefined => {
    const c = contrib.get(t.id);
    if (!c) return undefined;
    if (c.length > 1) {
      let s = c[0];
      for (let i = 1; i < c.length; i++) s = g.add(s, c[i]);
      contrib.set(t.id, [s]);
      return s;
    }
    return c[0];
  };
  const seed = opts.seed ?? (loss.rank === 0 ? g.scalar(1, loss.dtype) : g.expandLike(g.scalar(1, loss.dtype), loss));
  if (!seed.shape.every((d, i) => dimEq(d, loss.shape[i])) || seed.rank !== loss.rank)
    throw new GraphError(`grad: seed ${seed} does not match loss ${loss}`);
  if (dep.has(loss.id)) contrib.set(loss.id, [seed]);

  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => dep.has(o.id))) continue;
    const gy = n.outputs.map((o) => (dep.has(o.id) ? total(o) : undefined));
    if (gy.every((t) => t === undefined)) continue;
    const needs = n.inputs.map((i) => dep.has(i.id));
    if (!needs.some(Boolean)) continue;
    const rule = GRAD_RULES[n.op];
    if (!rule) throw new GraphError(`grad: no gradient rule for ${n.op}`);
    const gx = rule({ g, node: n, x: n.inputs, y: n.outputs, gy, needs });
    n.inputs.forEach((inp, i) => {
      const t = gx[i];
      if (!needs[i] || !t) return;
      if (t.rank !== inp.rank || !t.shape.every((d, j) => canonDim(d) === canonDim(inp.shape[j])))
        throw new GraphError(`internal: ${n.op} gradient for input ${i} has shape ${fmtShape(t.shape)}, input is ${inp}`);
      if (t.dtype !== inp.dtype) throw new GraphError(`internal: ${n.op} gradient dtype ${t.dtype} for ${inp}`);
      const list = contrib.get(inp.id);
      if (list) list.push(t);
      else contrib.set(inp.id, [t]);
    });
  }
  return wrt.map((w) => total(w) ?? (isStatic(w.shape) ? g.zeros(w.shape, w.dtype) : g.zerosLike(w)));
}
