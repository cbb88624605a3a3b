/**
 * One small graph per op (and a few composites), on seeded random shapes with broadcasting. Used
 * by the gradient checks (float64 finite differences) and by the engine comparisons.
 */
import { Graph, type Tensor } from "../src/graph/graph.ts";
import type { Value } from "../src/graph/interpreter.ts";
import { causalMask, gelu, geluTanh, layerNorm, logSoftmax, rmsNorm, selfAttention } from "../src/graph/nn.ts";
import { lcg } from "../src/toy-models.ts";

export interface Case {
  name: string;
  g: Graph;
  /** The op's output (float): the loss for gradient checks is sum(out * R). */
  out: Tensor;
  /** Tensors to differentiate with respect to (inputs). */
  wrt: Tensor[];
  feeds: Record<string, Value>;
  /** false: uses dtypes WebGPU lacks (float64). */
  gpu?: boolean;
}

type Kind = "any" | "pos" | "away" | "unit";

export class CaseBuilder {
  readonly g = new Graph();
  readonly feeds: Record<string, Value> = {};
  readonly wrt: Tensor[] = [];
  private n = 0;
  constructor(readonly rnd: () => number) {}

  /** A random float input; `away`: |x| in [0.2, 1.2] (no kinks or ties); `pos`: (0.3, 1.8). */
  x(shape: (number | string)[], kind: Kind = "any", concrete?: number[], diff = true): Tensor {
    const name = `in${this.n++}`;
    const t = this.g.input(name, "float32", shape);
    const dims = concrete ?? (shape as number[]);
    const size = dims.reduce((s, d) => s * d, 1);
    const data = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const u = this.rnd();
      data[i] =
        kind === "pos" ? 0.3 + 1.5 * u : kind === "away" ? (u < 0.5 ? -1 : 1) * (0.2 + this.rnd()) : kind === "unit" ? u : 2 * u - 1;
    }
    // ties in max/min style ops are measure-zero here; keep the values distinct
    this.feeds[name] = { dtype: "float32", shape: dims, data };
    if (diff) this.wrt.push(t);
    return t;
  }

  /** An int32 input with values in [0, hi). */
  ints(shape: number[], hi: number, values?: number[]): Tensor {
    const name = `in${this.n++}`;
    const t = this.g.input(name, "int32", shape);
    const size = shape.reduce((s, d) => s * d, 1);
    const data = Float64Array.from(values ?? Array.from({ length: size }, () => Math.floor(this.rnd() * hi)));
    this.feeds[name] = { dtype: "int32", shape, data };
    return t;
  }

  dim(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }

  /** A random shape and a shape that broadcasts to it. */
  bcastPair(): [number[], number[]] {
    const r = this.dim(1, 4);
    const a = Array.from({ length: r }, () => this.dim(2, 4));
    let b = a.map((d) => (this.rnd() < 0.35 ? 1 : d));
    b = b.slice(this.dim(0, Math.max(0, r - 1)));
    return this.rnd() < 0.5 ? [a, b] : [b, a];
  }

  done(name: string, out: Tensor, gpu = true): Case {
    return { name, g: this.g, out, wrt: this.wrt, feeds: this.feeds, gpu };
  }
}

type Make = (c: CaseBuilder) => Case;

const unaryCase =
  (name: string, f: (g: Graph, x: Tensor) => Tensor, kind: Kind = "any"): Make =>
  (c) => {
    const [s] = c.bcastPair();
    return c.done(name, f(c.g, c.x(s, kind)));
  };

const binaryCase =
  (name: string, f: (g: Graph, a: Tensor, b: Tensor) => Tensor, ka: Kind = "any", kb: Kind = "any"): Make =>
  (c) => {
    const [sa, sb] = c.bcastPair();
    return c.done(name, f(c.g, c.x(sa, ka), c.x(sb, kb)));
  };

export const CASES: Record<string, Make> = {
  Neg: unaryCase("Neg", (g, x) => g.neg(x)),
  Abs: unaryCase("Abs", (g, x) => g.abs(x), "away"),
  Exp: unaryCase("Exp", (g, x) => g.exp(x)),
  Log: unaryCase("Log", (g, x) => g.log(x), "pos"),
  Sqrt: unaryCase("Sqrt", (g, x) => g.sqrt(x), "pos"),
  Reciprocal: unaryCase("Reciprocal", (g, x) => g.reciprocal(x), "pos"),
  Sigmoid: unaryCase("Sigmoid", (g, x) => g.sigmoid(x)),
  Tanh: unaryCase("Tanh", (g, x) => g.tanh(x)),
  Erf: unaryCase("Erf", (g, x) => g.erf(g.mul(x, 2))),
  Relu: unaryCase("Relu", (g, x) => g.relu(x), "away"),
  Identity: unaryCase("Identity", (g, x) => g.mul(g.identity(x), 3)),
  // a hand-written gradient (here x²'s own) reaches its wrt and nothing else
  CustomGradient: unaryCase("CustomGradient", (g, x) => g.customGradient(g.mul(x, x), [x], (gy) => [g.mul(gy, g.mul(x, 2))])),
  Add: binaryCase("Add", (g, a, b) => g.add(a, b)),
  Sub: binaryCase("Sub", (g, a, b) => g.sub(a, b)),
  Mul: binaryCase("Mul", (g, a, b) => g.mul(a, b)),
  Div: binaryCase("Div", (g, a, b) => g.div(a, b), "any", "pos"),
  Max: binaryCase("Max", (g, a, b) => g.maximum(a, b), "away", "any"),
  Min: binaryCase("Min", (g, a, b) => g.minimum(a, b), "away", "any"),
  PowConst2: unaryCase("Pow", (g, x) => g.pow(x, 2)),
  PowConst3: unaryCase("Pow", (g, x) => g.pow(x, 3)),
  PowSqrt: unaryCase("Pow", (g, x) => g.pow(x, 0.5), "pos"),
  PowConstFrac: unaryCase("Pow", (g, x) => g.pow(x, -1.5), "pos"),
  PowTensor: binaryCase("Pow", (g, a, b) => g.pow(a, b), "pos", "any"),
  Where: (c) => {
    const [sa, sb] = c.bcastPair();
    const cond = c.g.greater(c.x(sa, "any", undefined, false), 0);
    return c.done("Where", c.g.where(cond, c.x(sa), c.x(sb)));
  },
  Cast: (c) => {
    const x = c.x([3, 4]);
    return c.done("Cast", c.g.cast(c.g.mul(c.g.cast(x, "float64"), 2), "float32"), false);
  },
  MatMulBatched: (c) => {
    const M = c.dim(1, 4);
    const K = c.dim(1, 5);
    const N = c.dim(1, 4);
    return c.done("MatMul", c.g.matmul(c.x([2, 1, M, K]), c.x([3, K, N])));
  },
  MatMulWeight: (c) => {
    const K = c.dim(2, 5);
    return c.done("MatMul", c.g.matmul(c.x([2, 3, K]), c.x([K, c.dim(2, 4)])));
  },
  MatMulLeft2D: (c) => {
    const K = c.dim(2, 5);
    return c.done("MatMul", c.g.matmul(c.x([3, K]), c.x([2, K, 4])));
  },
  MatMul2D: (c) => c.done("MatMul", c.g.matmul(c.x([3, 4]), c.x([4, c.dim(2, 4)]))),
  ...Object.fromEntries(
    (["NN", "TN", "NT", "TT"] as const).map((k): [string, Make] => [
      `Gemm${k}`,
      (c) => {
        const [M, K, N] = [c.dim(2, 4), c.dim(2, 5), c.dim(2, 4)];
        const transA = k[0] === "T";
        const transB = k[1] === "T";
        return c.done("Gemm", c.g.gemm(c.x(transA ? [K, M] : [M, K]), c.x(transB ? [N, K] : [K, N]), { transA, transB }));
      },
    ]),
  ),
  // alpha and a C broadcast to the product (a row, a column, a scalar or the full matrix)
  GemmAlphaC: (c) => {
    const [M, K, N] = [c.dim(2, 4), c.dim(2, 5), c.dim(2, 4)];
    const cShape = [[N], [M, 1], [1, N], [M, N], []][c.dim(0, 4)];
    return c.done("Gemm", c.g.gemm(c.x([K, M]), c.x([K, N]), { transA: true, alpha: 0.75, c: c.x(cShape) }));
  },
  Softmax: (c) => {
    const s = [c.dim(1, 3), c.dim(2, 5), c.dim(2, 4)];
    return c.done("Softmax", c.g.softmax(c.x(s), c.dim(0, 2)));
  },
  ReduceSum: (c) => {
    const s = [c.dim(2, 3), c.dim(2, 4), c.dim(1, 3)];
    return c.done("ReduceSum", c.g.reduceSum(c.x(s), [0, 2], c.rnd() < 0.5));
  },
  ReduceMean: (c) => {
    const s = [c.dim(2, 3), c.dim(2, 4), c.dim(1, 3)];
    return c.done("ReduceMean", c.g.reduceMean(c.x(s), [1], c.rnd() < 0.5));
  },
  ReduceMeanAll: (c) => c.done("ReduceMean", c.g.reduceMean(c.x([3, 4]))),
  ReduceMax: (c) => {
    const s = [c.dim(2, 3), c.dim(2, 5), c.dim(1, 3)];
    return c.done("ReduceMax", c.g.reduceMax(c.x(s), [1], c.rnd() < 0.5));
  },
  GatherEmbedding: (c) => {
    const table = c.x([6, 4]);
    const ids = c.ints([2, 5], 6, [0, 1, 1, 5, 3, 3, 3, 0, 2, 5]);
    return c.done("Gather", c.g.gather(table, ids, 0));
  },
  GatherAxis1: (c) => {
    const x = c.x([2, 5, 3]);
    return c.done("Gather", c.g.gather(x, c.ints([4], 5, [4, 0, 4, 2]), 1));
  },
  GatherElementsLabels: (c) => {
    const x = c.x([2, 3, 7]);
    return c.done("GatherElements", c.g.gatherElements(x, c.ints([2, 3, 1], 7), 2));
  },
  GatherElementsGeneral: (c) => {
    const x = c.x([3, 5]);
    return c.done("GatherElements", c.g.gatherElements(x, c.ints([3, 4], 5), 1));
  },
  ScatterElementsAdd: (c) => {
    const d = c.x([4, 3]);
    const u = c.x([5, 3]);
    return c.done("ScatterElements", c.g.scatterElements(d, c.ints([5, 3], 4), u, 0, "add"));
  },
  ScatterElementsSet: (c) => {
    const d = c.x([4, 3]);
    const u = c.x([2, 3]);
    return c.done("ScatterElements", c.g.scatterElements(d, c.ints([2, 3], 4, [0, 3, 1, 2, 1, 0]), u, 0, "none"));
  },
  Reshape: (c) => c.done("Reshape", c.g.reshape(c.x([2, 3, 4]), [4, -1])),
  ReshapeLike: (c) => {
    const ref = c.x([6, 2], "any", undefined, false);
    return c.done("ReshapeLike", c.g.mul(c.g.reshapeLike(c.x([3, 4]), ref), ref));
  },
  ExpandLike: (c) => {
    const ref = c.x([3, 4], "any", undefined, false);
    return c.done("ExpandLike", c.g.mul(c.g.expandLike(c.x([3, 1]), ref), ref));
  },
  Expand: (c) => c.done("Expand", c.g.expand(c.x([3, 1]), [2, 3, 4])),
  Transpose: (c) => c.done("Transpose", c.g.transpose(c.x([2, 3, 4]), [2, 0, 1])),
  Unsqueeze: (c) => c.done("Unsqueeze", c.g.mul(c.g.unsqueeze(c.x([3, 4]), [0, 2]), c.x([2, 1, 1, 4]))),
  Squeeze: (c) => c.done("Squeeze", c.g.squeeze(c.x([3, 1, 4, 1]), [1, 3])),
  Trilu: (c) => c.done("Trilu", c.g.trilu(c.x([2, 4, 4]), c.rnd() < 0.5, c.dim(0, 2) - 1)),
  Slice: (c) => c.done("Slice", c.g.slice(c.x([4, 6, 3]), [1, -4], [3, 1000], [0, 1])),
  Pad: (c) => c.done("Pad", c.g.pad(c.x([2, 3]), [1, 0, 0, 2], 0.5)),
  Concat: (c) => c.done("Concat", c.g.concat([c.x([2, 3]), c.x([2, 1]), c.x([2, 2])], 1)),
  Split: (c) => {
    const [a, , b] = c.g.split(c.x([5, 3]), [2, 1, 2], 0);
    return c.done("Split", c.g.mul(a, b)); // middle output unused: zero gradient
  },
  // composites
  LogSoftmax: (c) => c.done("logSoftmax", logSoftmax(c.x([3, 6]), -1)),
  RmsNorm: (c) => c.done("rmsNorm", rmsNorm(c.x([2, 3, 5]), c.x([5], "pos"))),
  LayerNorm: (c) => c.done("layerNorm", layerNorm(c.x([2, 3, 5]), c.x([5], "pos"), c.x([5]))),
  Gelu: (c) => c.done("gelu", c.g.add(gelu(c.x([3, 4])), geluTanh(c.x([3, 4])))),
  CausalMaskStatic: (c) => c.done("causalMask", c.g.softmax(causalMask(c.x([2, 4, 4])), -1)),
  CausalMaskSymbolic: (c) => c.done("causalMask", c.g.softmax(causalMask(c.x([2, "T", "T"], "any", [2, 3, 3])), -1)),
  AttentionSymbolic: (c) => {
    const x = c.x(["B", "T", 8], "any", [2, 3, 8]);
    const w = { wq: c.x([8, 8]), wk: c.x([8, 8]), wv: c.x([8, 8]), wo: c.x([8, 8]) };
    return c.done("selfAttention", selfAttention(x, w, 2, true));
  },
  ReduceMeanSymbolic: (c) => c.done("ReduceMean", c.g.reduceMean(c.x(["B", 4], "any", [3, 4]), [0], true)),
};

export function makeCase(key: string, seed: number): Case {
  return CASES[key](new CaseBuilder(lcg(seed * 7919 + key.length * 104729 + key.charCodeAt(0))));
}

/** sum(out * R) with a fixed random R (broadcast along symbolic dims): a scalar loss seeing every element. */
export function projectLoss(c: Case, seed = 5): Tensor {
  const r = lcg(seed);
  const rshape = c.out.shape.map((d) => (typeof d === "number" ? d : 1));
  const n = rshape.reduce((s, d) => s * d, 1);
  const R = c.g.constant(
    Array.from({ length: n }, () => r() * 2 - 1),
    rshape,
  );
  return c.g.reduceSum(c.g.mul(c.out, R));
}
