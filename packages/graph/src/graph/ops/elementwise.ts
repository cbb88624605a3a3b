/** Elementwise ops: unary maps, broadcasting binary ops, Where, Cast and the identities. */
import { type DType, ONNX_DTYPE, isFloat } from "../dtype.ts";
import type { Graph, Tensor } from "./op.ts";
import { ShapeError, broadcastShapes } from "../shape.ts";
import { type GradCtx, type GradRule, NO_GRADIENT, type OpDef, type ShapeRule, sameOnnx } from "./op.ts";
import { unbroadcast } from "./gradients.ts";
import { bcastOffsets, bshape, castValue } from "./values.ts";

export const floatOnly = (t: Tensor) => {
  if (!isFloat(t.dtype)) throw new ShapeError(`expected a float tensor, got ${t}`);
};
export const sameDtype = (ins: readonly Tensor[]) => {
  for (const t of ins) if (t.dtype !== ins[0].dtype) throw new ShapeError(`dtype mismatch ${ins.map(String).join(", ")}`);
};

const sameType: ShapeRule = (ins) => [{ dtype: ins[0].dtype, shape: ins[0].shape }];

/** A unary map; `float`: its input must be a float tensor. */
function unary(f: (x: number) => number, rule: (c: GradCtx, gy: Tensor) => Tensor, float = true): OpDef {
  return {
    shape: (ins, a, g) => (float && floatOnly(ins[0]), sameType(ins, a, g)),
    eval: ([x], c) =>
      c.out(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = f(x.data[i]);
      }),
    onnx: sameOnnx,
    grad: (c) => [rule(c, c.gy[0]!)],
  };
}

/** A broadcasting binary op: arithmetic keeps the dtype, comparisons and logic give bool. */
function binary(kind: "arith" | "compare" | "logic", f: (a: number, b: number, dt: DType) => number, grad: GradRule): OpDef {
  return {
    shape: (ins) => {
      const [a, b] = ins;
      if (kind === "logic") {
        if (a.dtype !== "bool" || b.dtype !== "bool") throw new ShapeError(`logic op needs bool inputs: ${a}, ${b}`);
      } else sameDtype(ins);
      return [{ dtype: kind === "arith" ? a.dtype : "bool", shape: broadcastShapes(a.shape, b.shape) }];
    },
    eval: ([x, y], c) => {
      const shape = bshape(x.shape, y.shape);
      const ox = bcastOffsets(x.shape, shape);
      const oy = bcastOffsets(y.shape, shape);
      return c.out(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = f(x.data[ox[i]], y.data[oy[i]], x.dtype);
      });
    },
    onnx: sameOnnx,
    grad,
  };
}

function minmax(g: Graph, x: Tensor[], G: Tensor, needs: boolean[], kind: "max" | "min"): (Tensor | undefined)[] {
  const [a, b] = x;
  const wins = (p: Tensor, q: Tensor) => (kind === "max" ? g.greater(p, q) : g.less(p, q));
  const tie = g.equal(a, b);
  const half = g.mul(G, 0.5);
  const part = (p: Tensor, q: Tensor) => g.where(wins(p, q), G, g.where(tie, half, 0));
  return [needs[0] ? unbroadcast(g, part(a, b), a) : undefined, needs[1] ? unbroadcast(g, part(b, a), b) : undefined];
}

function constScalar(t: Tensor): number | undefined {
  if (t.kind === "const" && t.data && t.data.length === 1) return Number(t.data[0]);
  return undefined;
}

function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!  (positive terms: no cancellation)
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  }
  // continued fraction for erfc (converges fast for |x| >= 3)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const nanOr = (a: number, b: number, f: (a: number, b: number) => number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : f(a, b));

export const ELEMENTWISE_OPS = {
  Identity: {
    ...unary(
      (x) => x,
      (_, gy) => gy,
      false,
    ),
    cost: "free",
  },
  /** Forward identity, emitted as one; blocks gradients. */
  StopGradient: {
    cost: "free",
    ...unary(
      (x) => x,
      (_, gy) => gy,
      false,
    ),
    onnx: (e, _n, x, outs) => e.emit("Identity", x, outs),
    grad: () => [undefined],
  },
  /** Input 0 forward; the other inputs are what its hand-written gradient reaches. */
  CustomGradient: {
    cost: "free",
    ...unary(
      (x) => x,
      (_, gy) => gy,
      false,
    ),
    onnx: (e, _n, x, outs) => e.emit("Identity", [x[0]], outs),
    grad: ({ g, node, gy, needs }) => [undefined, ...g.customGradRules.get(node.id)!(gy[0]!, needs.slice(1))],
  },
  Neg: unary(
    (x) => -x,
    ({ g }, gy) => g.neg(gy),
    false,
  ),
  Abs: unary(Math.abs, ({ g, x }, gy) => g.where(g.greater(x[0], 0), gy, g.where(g.less(x[0], 0), g.neg(gy), 0)), false),
  Exp: unary(Math.exp, ({ g, y }, gy) => g.mul(gy, y[0])),
  Log: unary(Math.log, ({ g, x }, gy) => g.div(gy, x[0])),
  Sqrt: unary(Math.sqrt, ({ g, y }, gy) => g.mul(g.div(gy, y[0]), 0.5)),
  Reciprocal: unary(
    (x) => 1 / x,
    ({ g, y }, gy) => g.neg(g.mul(gy, g.mul(y[0], y[0]))),
  ),
  Sigmoid: unary(
    (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    ({ g, y }, gy) => g.mul(gy, g.sub(y[0], g.mul(y[0], y[0]))),
  ),
  Tanh: unary(Math.tanh, ({ g, y }, gy) => g.mul(gy, g.sub(1, g.mul(y[0], y[0])))),
  Erf: unary(erf, ({ g, x }, gy) => g.mul(gy, g.mul(g.exp(g.neg(g.mul(x[0], x[0]))), 2 / Math.sqrt(Math.PI)))),
  Relu: unary(
    (x) => (x > 0 ? x : 0),
    ({ g, x }, gy) => g.where(g.greater(x[0], 0), gy, 0),
  ),
  Not: {
    shape: (ins) => {
      if (ins[0].dtype !== "bool") throw new ShapeError(`needs bool, got ${ins[0]}`);
      return [{ dtype: "bool", shape: ins[0].shape }];
    },
    eval: ([x], c) =>
      c.out(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[i] ? 0 : 1;
      }),
    onnx: sameOnnx,
    grad: NO_GRADIENT,
  },

  Add: {
    ...binary(
      "arith",
      (a, b) => a + b,
      ({ g, x, gy, needs }) => [needs[0] ? unbroadcast(g, gy[0]!, x[0]) : undefined, needs[1] ? unbroadcast(g, gy[0]!, x[1]) : undefined],
    ),
    commutative: true,
  },
  Sub: binary(
    "arith",
    (a, b) => a - b,
    ({ g, x, gy, needs }) => [
      needs[0] ? unbroadcast(g, gy[0]!, x[0]) : undefined,
      needs[1] ? unbroadcast(g, g.neg(gy[0]!), x[1]) : undefined,
    ],
  ),
  Mul: {
    ...binary(
      "arith",
      (a, b) => a * b,
      ({ g, x, gy, needs }) => [
        needs[0] ? unbroadcast(g, g.mul(gy[0]!, x[1]), x[0]) : undefined,
        needs[1] ? unbroadcast(g, g.mul(gy[0]!, x[0]), x[1]) : undefined,
      ],
    ),
    commutative: true,
  },
  Div: binary(
    "arith",
    (a, b, dt) => (isFloat(dt) ? a / b : Math.trunc(a / b)),
    ({ g, x, y, gy, needs }) => [
      needs[0] ? unbroadcast(g, g.div(gy[0]!, x[1]), x[0]) : undefined,
      needs[1] ? unbroadcast(g, g.neg(g.div(g.mul(gy[0]!, y[0]), x[1])), x[1]) : undefined,
    ],
  ),
  Max: {
    ...binary(
      "arith",
      (a, b) => nanOr(a, b, Math.max),
      ({ g, x, gy, needs }) => minmax(g, x, gy[0]!, needs, "max"),
    ),
    commutative: true,
  },
  Min: {
    ...binary(
      "arith",
      (a, b) => nanOr(a, b, Math.min),
      ({ g, x, gy, needs }) => minmax(g, x, gy[0]!, needs, "min"),
    ),
    commutative: true,
  },
  Pow: (() => {
    const def = binary(
      "arith",
      (a, b) => a ** b,
      ({ g, x, y, gy, needs }) => {
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
    );
    return { ...def, shape: (ins, a, g) => (floatOnly(ins[0]), def.shape(ins, a, g)) } satisfies OpDef;
  })(),
  Equal: { ...binary("compare", (a, b) => (a === b ? 1 : 0), NO_GRADIENT), commutative: true },
  Less: binary("compare", (a, b) => (a < b ? 1 : 0), NO_GRADIENT),
  Greater: binary("compare", (a, b) => (a > b ? 1 : 0), NO_GRADIENT),
  And: { ...binary("logic", (a, b) => (a && b ? 1 : 0), NO_GRADIENT), commutative: true },
  Or: { ...binary("logic", (a, b) => (a || b ? 1 : 0), NO_GRADIENT), commutative: true },

  Where: {
    shape: (ins) => {
      const [c, a, b] = ins;
      if (c.dtype !== "bool") throw new ShapeError(`condition must be bool, got ${c}`);
      sameDtype([a, b]);
      return [{ dtype: a.dtype, shape: broadcastShapes(c.shape, a.shape, b.shape) }];
    },
    eval: ([c, x, y], ctx) => {
      const shape = bshape(c.shape, x.shape, y.shape);
      const oc = bcastOffsets(c.shape, shape);
      const ox = bcastOffsets(x.shape, shape);
      const oy = bcastOffsets(y.shape, shape);
      return ctx.out(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = c.data[oc[i]] ? x.data[ox[i]] : y.data[oy[i]];
      });
    },
    onnx: sameOnnx,
    grad: ({ g, x, gy, needs }) => {
      const [c, a, b] = x;
      const G = gy[0]!;
      return [
        undefined,
        needs[1] ? unbroadcast(g, g.where(c, G, 0), a) : undefined,
        needs[2] ? unbroadcast(g, g.where(c, 0, G), b) : undefined,
      ];
    },
  },
  Cast: {
    cost: "free",
    shape: (ins, a) => [{ dtype: a.to as DType, shape: ins[0].shape }],
    eval: ([x], c) =>
      c.out(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = castValue(x.data[i], c.attrs.to as DType);
      }),
    onnx: (e, n, x, outs) => e.emit("Cast", x, outs, [e.attr("to", ONNX_DTYPE[n.attrs.to as DType], "int")]),
    grad: ({ g, x, gy }) => [isFloat(x[0].dtype) ? g.cast(gy[0]!, x[0].dtype) : undefined],
  },
} satisfies Record<string, OpDef>;
