/**
 * Reference interpreter for the graph IR, in float64 (default) or emulated float32 (every float32
 * result rounded to fp32, as ORT computes). Plain loops, written for clarity and exactness; used
 * by tests to check ORT's outputs and gradients, and by constant folding.
 */
import { type DType, type HostArray, hostGet, isFloat } from "./dtype.ts";
import { type Attrs, GraphError, type Tensor, clampSlice, liveNodes } from "./graph.ts";
import { type Dim, stridesOf } from "./shape.ts";

export type Data = Float64Array | Float32Array;

/** A concrete value: float32 data may be a Float32Array (fp32 mode); everything else is Float64Array. */
export interface Value {
  dtype: DType;
  shape: number[];
  data: Data;
}

export type Precision = "float64" | "float32";

export function valueOf(dtype: DType, shape: readonly number[], src: HostArray | ArrayLike<number>): Value {
  const n = shape.reduce((s, d) => s * d, 1);
  if (src.length !== n) throw new GraphError(`value of shape [${shape}] needs ${n} elements, got ${src.length}`);
  const data = new Float64Array(n);
  if (dtype === "float16" && src instanceof Uint16Array) for (let i = 0; i < n; i++) data[i] = hostGet(src, dtype, i);
  else for (let i = 0; i < n; i++) data[i] = Number(src[i]);
  return { dtype, shape: [...shape], data };
}

function alloc(dtype: DType, n: number, prec: Precision): Data {
  return prec === "float32" && (dtype === "float32" || dtype === "float16") ? new Float32Array(n) : new Float64Array(n);
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** For every element of `out`, the flat offset in `inp` under numpy broadcasting. */
function bcastOffsets(inp: readonly number[], out: readonly number[]): Int32Array {
  const lead = out.length - inp.length;
  const st = stridesOf(inp as number[]);
  // a broadcast axis (missing or of size 1) does not move through `inp`
  const eff = out.map((_d, i) => (i < lead || inp[i - lead] === 1 ? 0 : st[i - lead]!));
  return bcastOffsetsStrided([...out], eff);
}

function bshape(...shapes: number[][]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - r + i;
      if (k < 0 || s[k] === 1) continue;
      if (d !== 1 && d !== s[k]) throw new GraphError(`runtime broadcast mismatch [${shapes.join("] [")}]`);
      d = s[k];
    }
    out.push(d);
  }
  return out;
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

const UNARY: Record<string, (x: number) => number> = {
  Identity: (x) => x,
  StopGradient: (x) => x,
  CustomGradient: (x) => x,
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Exp: Math.exp,
  Log: Math.log,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  Tanh: Math.tanh,
  Erf: erf,
  Relu: (x) => (x > 0 ? x : 0),
  Not: (x) => (x ? 0 : 1),
};

function intDiv(a: number, b: number): number {
  return Math.trunc(a / b);
}

const BINARY: Record<string, (a: number, b: number, dt: DType) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, dt) => (isFloat(dt) ? a / b : intDiv(a, b)),
  Pow: (a, b) => a ** b,
  Max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  Min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  Equal: (a, b) => (a === b ? 1 : 0),
  Less: (a, b) => (a < b ? 1 : 0),
  Greater: (a, b) => (a > b ? 1 : 0),
  And: (a, b) => (a && b ? 1 : 0),
  Or: (a, b) => (a || b ? 1 : 0),
};

function castValue(x: number, to: DType): number {
  switch (to) {
    case "bool":
      return x !== 0 ? 1 : 0;
    case "int32":
      return Math.trunc(x) | 0;
    case "int64":
      return Math.trunc(x);
    case "int8":
      return (Math.trunc(x) << 24) >> 24;
    case "uint8":
      return Math.trunc(x) & 255;
    default:
      return x;
  }
}

/** Evaluate one node on concrete values. */
export function evalNode(op: string, ins: Value[], attrs: Attrs, outDtypes: DType[], prec: Precision): Value[] {
  const dt0 = outDtypes[0];
  const out1 = (shape: number[], f: (o: Data) => void): Value[] => {
    const data = alloc(dt0, size(shape), prec);
    f(data);
    if (!isFloat(dt0)) for (let i = 0; i < data.length; i++) data[i] = castValue(data[i], dt0);
    return [{ dtype: dt0, shape, data }];
  };
  const u = UNARY[op];
  if (u) {
    const x = ins[0];
    return out1(x.shape, (o) => {
      for (let i = 0; i < o.length; i++) o[i] = u(x.data[i]);
    });
  }
  const b = BINARY[op];
  if (b) {
    const [x, y] = ins;
    const shape = bshape(x.shape, y.shape);
    const ox = bcastOffsets(x.shape, shape);
    const oy = bcastOffsets(y.shape, shape);
    const dt = x.dtype;
    return out1(shape, (o) => {
      for (let i = 0; i < o.length; i++) o[i] = b(x.data[ox[i]], y.data[oy[i]], dt);
    });
  }
  switch (op) {
    case "Where": {
      const [c, x, y] = ins;
      const shape = bshape(c.shape, x.shape, y.shape);
      const oc = bcastOffsets(c.shape, shape);
      const ox = bcastOffsets(x.shape, shape);
      const oy = bcastOffsets(y.shape, shape);
      return out1(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = c.data[oc[i]] ? x.data[ox[i]] : y.data[oy[i]];
      });
    }
    case "Cast": {
      const x = ins[0];
      const to = attrs.to as DType;
      return out1(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = castValue(x.data[i], to);
      });
    }
    case "MatMul": {
      const [a, bb] = ins;
      const M = a.shape[a.shape.length - 2];
      const K = a.shape[a.shape.length - 1];
      const N = bb.shape[bb.shape.length - 1];
      const batch = bshape(a.shape.slice(0, -2), bb.shape.slice(0, -2));
      const shape = [...batch, M, N];
      const ba = bcastOffsets(a.shape.slice(0, -2), batch);
      const bbo = bcastOffsets(bb.shape.slice(0, -2), batch);
      const nb = size(batch);
      return out1(shape, (o) => {
        const acc = new Float64Array(N);
        for (let q = 0; q < nb; q++) {
          const ao = ba[q] * M * K;
          const bo = bbo[q] * K * N;
          for (let i = 0; i < M; i++) {
            acc.fill(0);
            for (let k = 0; k < K; k++) {
              const av = a.data[ao + i * K + k];
              const row = bo + k * N;
              for (let j = 0; j < N; j++) acc[j] += av * bb.data[row + j];
            }
            o.set(acc, (q * M + i) * N);
          }
        }
      });
    }
    case "Gemm": {
      const [a, bb] = ins;
      const tA = attrs.transA === 1;
      const tB = attrs.transB === 1;
      const [M, K] = tA ? [a.shape[1], a.shape[0]] : a.shape;
      const N = tB ? bb.shape[0] : bb.shape[1];
      const at = (i: number, k: number) => a.data[tA ? k * M + i : i * K + k];
      const bt = (k: number, j: number) => bb.data[tB ? j * K + k : k * N + j];
      const alpha = (attrs.alpha as number | undefined) ?? 1;
      const c = ins[2];
      const cOff = c ? bcastOffsets(c.shape, [M, N]) : undefined;
      return out1([M, N], (o) => {
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let acc = 0;
            for (let k = 0; k < K; k++) acc += at(i, k) * bt(k, j);
            o[i * N + j] = alpha * acc + (c ? Number(c.data[cOff![i * N + j]]) : 0);
          }
      });
    }
    case "SimplifiedLayerNormalization": {
      const [x, w] = ins;
      const D = x.shape[x.shape.length - 1];
      const eps = attrs.epsilon as number;
      return out1(x.shape, (o) => {
        for (let r = 0; r < x.data.length / D; r++) {
          let ss = 0;
          for (let i = 0; i < D; i++) ss += x.data[r * D + i] ** 2;
          const inv = 1 / Math.sqrt(ss / D + eps);
          for (let i = 0; i < D; i++) o[r * D + i] = x.data[r * D + i] * inv * w.data[i];
        }
      });
    }
    case "Softmax": {
      const x = ins[0];
      const ax = attrs.axis as number;
      const L = x.shape[ax];
      const inner = size(x.shape.slice(ax + 1));
      const outer = size(x.shape.slice(0, ax));
      return out1(x.shape, (o) => {
        for (let p = 0; p < outer; p++)
          for (let q = 0; q < inner; q++) {
            const base = p * L * inner + q;
            let m = -Infinity;
            for (let l = 0; l < L; l++) m = Math.max(m, x.data[base + l * inner]);
            let s = 0;
            for (let l = 0; l < L; l++) s += Math.exp(x.data[base + l * inner] - m);
            for (let l = 0; l < L; l++) o[base + l * inner] = Math.exp(x.data[base + l * inner] - m) / s;
          }
      });
    }
    case "ReduceSum":
    case "ReduceMean":
    case "ReduceMax": {
      const x = ins[0];
      const axes = attrs.axes as number[];
      const keep = attrs.keepdims === 1;
      const kshape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const shape = keep ? kshape : x.shape.filter((_, i) => !axes.includes(i));
      const offs = bcastOffsets(kshape, x.shape);
      const n = size(kshape);
      const count = size(x.shape) / Math.max(n, 1);
      const acc = new Float64Array(n).fill(op === "ReduceMax" ? -Infinity : 0);
      for (let i = 0; i < x.data.length; i++) {
        const v = x.data[i];
        if (op === "ReduceMax") {
          if (v > acc[offs[i]] || Number.isNaN(v)) acc[offs[i]] = v;
        } else acc[offs[i]] += v;
      }
      if (op === "ReduceMean") for (let i = 0; i < n; i++) acc[i] /= count;
      return out1(shape, (o) => o.set(acc));
    }
    case "Gather": {
      const [x, idx] = ins;
      const ax = attrs.axis as number;
      const L = x.shape[ax];
      const inner = size(x.shape.slice(ax + 1));
      const outer = size(x.shape.slice(0, ax));
      const shape = [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)];
      const ni = idx.data.length;
      return out1(shape, (o) => {
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
    }
    case "GatherElements":
    case "ScatterElements": {
      const [x, idx] = ins;
      const ax = attrs.axis as number;
      const L = x.shape[ax];
      const xs = stridesOf(x.shape);
      const is = idx.shape;
      const target = (i: number): number => {
        // flat index i in idx -> flat offset in x with axis coordinate replaced
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
      if (op === "GatherElements")
        return out1([...idx.shape], (o) => {
          for (let i = 0; i < o.length; i++) o[i] = x.data[target(i)];
        });
      const upd = ins[2];
      const add = attrs.reduction === "add";
      return out1([...x.shape], (o) => {
        o.set(x.data);
        for (let i = 0; i < idx.data.length; i++) {
          const t = target(i);
          o[t] = add ? o[t] + upd.data[i] : upd.data[i];
        }
      });
    }
    case "Reshape":
    case "Unsqueeze":
    case "Squeeze":
    case "Identity": {
      const x = ins[0];
      let shape: number[];
      if (op === "Reshape") shape = resolveDims(attrs.shape as Dim[], x);
      else if (op === "Unsqueeze") {
        const axes = attrs.axes as number[];
        shape = [];
        let j = 0;
        for (let i = 0; i < x.shape.length + axes.length; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
      } else shape = x.shape.filter((_, i) => !(attrs.axes as number[]).includes(i));
      if (size(shape) !== x.data.length) throw new GraphError(`${op}: runtime size mismatch [${x.shape}] -> [${shape}]`);
      return out1(shape, (o) => o.set(x.data));
    }
    case "Transpose": {
      const x = ins[0];
      const perm = attrs.perm as number[];
      const shape = perm.map((p) => x.shape[p]);
      const xs = stridesOf(x.shape);
      const offs = bcastOffsetsStrided(
        shape,
        perm.map((p) => xs[p]),
      );
      return out1(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[offs[i]];
      });
    }
    case "Slice": {
      const x = ins[0];
      const axes = attrs.axes as number[];
      const starts = attrs.starts as number[];
      const ends = attrs.ends as number[];
      const steps = attrs.steps as number[];
      const xs = stridesOf(x.shape);
      const shape = [...x.shape];
      const begin = x.shape.map(() => 0);
      const step = x.shape.map(() => 1);
      axes.forEach((ax, i) => {
        const [s, e] = clampSlice(x.shape[ax], starts[i], ends[i], steps[i]);
        const st = steps[i];
        shape[ax] = st > 0 ? Math.max(0, Math.ceil((e - s) / st)) : Math.max(0, Math.ceil((s - e) / -st));
        begin[ax] = s;
        step[ax] = st;
      });
      const base = begin.reduce((acc, b, i) => acc + b * xs[i], 0);
      const offs = bcastOffsetsStrided(
        shape,
        xs.map((s, i) => s * step[i]),
      );
      return out1(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[base + offs[i]];
      });
    }
    case "Concat": {
      const ax = attrs.axis as number;
      const shape = [...ins[0].shape];
      shape[ax] = ins.reduce((s, v) => s + v.shape[ax], 0);
      const outer = size(shape.slice(0, ax));
      const inner = size(shape.slice(ax + 1));
      return out1(shape, (o) => {
        let off = 0;
        for (let p = 0; p < outer; p++)
          for (const v of ins) {
            const blk = v.shape[ax] * inner;
            o.set(v.data.subarray(p * blk, (p + 1) * blk), off);
            off += blk;
          }
      });
    }
    case "Split": {
      const x = ins[0];
      const ax = attrs.axis as number;
      const sizes = attrs.split as number[];
      const outer = size(x.shape.slice(0, ax));
      const inner = size(x.shape.slice(ax + 1));
      const L = x.shape[ax];
      let start = 0;
      return sizes.map((n, k) => {
        const shape = [...x.shape];
        shape[ax] = n;
        const data = alloc(outDtypes[k], size(shape), prec);
        for (let p = 0; p < outer; p++) data.set(x.data.subarray((p * L + start) * inner, (p * L + start + n) * inner), p * n * inner);
        start += n;
        return { dtype: outDtypes[k], shape, data };
      });
    }
    case "Expand": {
      const x = ins[0];
      const target = resolveDims(attrs.shape as Dim[], x, true);
      const shape = bshape(x.shape, target);
      const offs = bcastOffsets(x.shape, shape);
      return out1(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[offs[i]];
      });
    }
    case "Pad": {
      const x = ins[0];
      const pads = attrs.pads as number[];
      const r = x.shape.length;
      const shape = x.shape.map((d, i) => d + pads[i] + pads[i + r]);
      const os = stridesOf(shape);
      const base = pads.slice(0, r).reduce((acc, p, i) => acc + p * os[i], 0);
      const offs = bcastOffsetsStrided([...x.shape], os);
      return out1(shape, (o) => {
        o.fill(attrs.value as number);
        for (let i = 0; i < x.data.length; i++) o[base + offs[i]] = x.data[i];
      });
    }
    case "ReshapeLike": {
      const [x, ref] = ins;
      if (ref.data.length !== x.data.length) throw new GraphError(`ReshapeLike: size mismatch [${x.shape}] -> [${ref.shape}]`);
      return out1([...ref.shape], (o) => o.set(x.data));
    }
    case "ExpandLike": {
      const [x, ref] = ins;
      const shape = [...ref.shape];
      const offs = bcastOffsets(x.shape, shape);
      return out1(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[offs[i]];
      });
    }
    case "Trilu": {
      const x = ins[0];
      const upper = attrs.upper === 1;
      const k = attrs.k as number;
      const R = x.shape[x.shape.length - 2];
      const C = x.shape[x.shape.length - 1];
      return out1(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) {
          const c = i % C;
          const r = Math.floor(i / C) % R;
          const keep = upper ? c - r >= k : c - r <= k;
          o[i] = keep ? x.data[i] : 0;
        }
      });
    }
  }
  throw new GraphError(`interpreter: op ${op} not implemented`);
}

function bcastOffsetsStrided(shape: number[], strides: number[]): Int32Array {
  const n = size(shape);
  const offs = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = off;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k]++;
      off += strides[k];
      if (idx[k] < shape[k]) break;
      off -= strides[k] * idx[k];
      idx[k] = 0;
    }
  }
  return offs;
}

/** Symbolic dims are resolved at run time from the input value (right-aligned for Expand). */
function resolveDims(dims: readonly Dim[], x: Value, expand = false): number[] {
  if (dims.every((d) => typeof d === "number")) return dims as number[];
  if (expand) {
    const lead = dims.length - x.shape.length;
    return dims.map((d, i) => {
      if (typeof d === "number") return d;
      if (i >= lead) return x.shape[i - lead];
      throw new GraphError(`Expand to symbolic dim ${d} not present in the input: bind dims`);
    });
  }
  // reshape: symbolic dims resolve against the runtime bindings recorded by the evaluator
  throw new SymbolicReshape(dims);
}

class SymbolicReshape extends Error {
  constructor(readonly dims: readonly Dim[]) {
    super("symbolic reshape");
  }
}

export interface EvalOptions {
  precision?: Precision;
  /** Values for graph inputs (by name). */
  feeds?: Record<string, HostArray | Value | ArrayLike<number>>;
  /** Override param data (by name); defaults to the params' initial data. */
  params?: Record<string, HostArray | Value>;
}

/**
 * Evaluate `outputs`. Symbolic dims are bound from the shapes of fed inputs (a feed given as a
 * plain array takes the input's static shape).
 */
export function evaluate(outputs: readonly Tensor[], opts: EvalOptions = {}): Value[] {
  const prec = opts.precision ?? "float64";
  const env = new Map<number, Value>();
  const dims: Record<string, number> = {};
  const bind = (t: Tensor, shape: number[]) => {
    if (shape.length !== t.rank) throw new GraphError(`feed for ${t}: rank ${shape.length}, expected ${t.rank}`);
    t.shape.forEach((d, i) => {
      if (typeof d === "number") {
        if (d !== shape[i]) throw new GraphError(`feed for ${t}: got shape [${shape}]`);
      } else {
        // a plain symbol, or "k*S" (an integer times one symbol, e.g. "4*B" rows of 4 blocks)
        const m = /^(?:(\d+)\*)?([^*\d][^*]*)$/.exec(d);
        if (!m) return;
        const k = m[1] ? Number(m[1]) : 1;
        if (shape[i] % k) throw new GraphError(`feed for ${t}: dim ${shape[i]} is not a multiple of ${k} (${d})`);
        const v = shape[i] / k;
        if (dims[m[2]] !== undefined && dims[m[2]] !== v) throw new GraphError(`dim ${m[2]} bound to ${dims[m[2]]} and ${v}`);
        dims[m[2]] = v;
      }
    });
  };
  const round = (v: Value): Value => {
    if (prec === "float32" && v.dtype === "float32" && !(v.data instanceof Float32Array)) return { ...v, data: Float32Array.from(v.data) };
    return v;
  };
  const load = (t: Tensor): Value => {
    let v = env.get(t.id);
    if (v) return v;
    if (t.kind === "const") v = valueOf(t.dtype, t.shape as number[], t.data!);
    else if (t.kind === "param") {
      const o = opts.params?.[t.name!];
      if (o && "shape" in o && "dtype" in o) v = o as Value;
      else v = valueOf(t.dtype, t.shape as number[], (o as HostArray) ?? t.data!);
    } else if (t.kind === "input") {
      const f = opts.feeds?.[t.name!];
      if (f === undefined) throw new GraphError(`no feed for input ${t}`);
      if (typeof f === "object" && "shape" in f && "dtype" in f) {
        v = f as Value;
      } else {
        if (!t.shape.every((d) => typeof d === "number"))
          throw new GraphError(`feed for ${t} has symbolic dims: pass a Value with a shape`);
        v = valueOf(t.dtype, t.shape as number[], f as ArrayLike<number>);
      }
      bind(t, v.shape);
    } else throw new GraphError(`tensor ${t} has no value`);
    v = round(v);
    env.set(t.id, v);
    return v;
  };
  const nodes = liveNodes(outputs);
  // bind dims from inputs up front
  for (const n of nodes) for (const t of n.inputs) if (t.kind === "input") load(t);
  for (const n of nodes) {
    const ins = n.inputs.map(load);
    let outs: Value[];
    try {
      outs = evalNode(
        n.op,
        ins,
        n.attrs,
        n.outputs.map((o) => o.dtype),
        prec,
      );
    } catch (e) {
      if (e instanceof SymbolicReshape) {
        const shape = e.dims.map((d) => evalDim(d, dims));
        outs = evalNode(
          n.op,
          ins,
          { ...n.attrs, shape },
          n.outputs.map((o) => o.dtype),
          prec,
        );
      } else throw e;
    }
    n.outputs.forEach((t, i) => env.set(t.id, outs[i]));
  }
  return outputs.map(load);
}

function evalDim(d: Dim, dims: Record<string, number>): number {
  if (typeof d === "number") return d;
  let v = 1;
  for (const p of d.split("*")) {
    if (/^\d+$/.test(p)) v *= Number(p);
    else if (dims[p] === undefined) throw new GraphError(`unbound symbolic dim ${p}`);
    else v *= dims[p];
  }
  return v;
}
