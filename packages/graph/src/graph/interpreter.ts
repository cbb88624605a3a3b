/**
 * Reference interpreter for the graph IR, in float64 (default) or emulated float32 (every float32
 * result rounded to fp32, as ORT computes). Plain loops, written for clarity and exactness; used
 * by tests to check ORT's outputs and gradients, and by constant folding.
 */
import { type DType, type HostArray, hostGet, isFloat, toHost } from "./dtype.ts";
import { type Attrs, GraphError, type Node, type Tensor, liveNodes } from "./graph.ts";
import { OPS, type OpDef, type OpName } from "./ops/index.ts";
import { type Data, type Precision, SymbolicReshape, type Value, alloc, castValue, size } from "./ops/values.ts";
import type { Dim } from "./shape.ts";

export type { Data, Precision, Value };

export function valueOf(dtype: DType, shape: readonly number[], src: HostArray | ArrayLike<number>): Value {
  const n = shape.reduce((s, d) => s * d, 1);
  if (src.length !== n) throw new GraphError(`value of shape [${shape}] needs ${n} elements, got ${src.length}`);
  const data = new Float64Array(n);
  if (dtype === "float16" && src instanceof Uint16Array) for (let i = 0; i < n; i++) data[i] = hostGet(src, dtype, i);
  else for (let i = 0; i < n; i++) data[i] = Number(src[i]);
  return { dtype, shape: [...shape], data };
}

/** Convert a value to the host array type of its dtype. */
export function toHostArray(v: Value): HostArray {
  return toHost(v.dtype, v.data);
}

/** Evaluate one node on concrete values. */
export function evalNode(op: OpName, ins: Value[], attrs: Attrs, dtypes: DType[], precision: Precision): Value[] {
  const out = (shape: number[], fill: (o: Data) => void, index = 0): Value[] => {
    const dtype = dtypes[index];
    const data = alloc(dtype, size(shape), precision);
    fill(data);
    if (!isFloat(dtype)) for (let i = 0; i < data.length; i++) data[i] = castValue(data[i], dtype);
    return [{ dtype, shape, data }];
  };
  return (OPS[op] as OpDef).eval(ins, { attrs, dtypes, precision, out });
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

export type { Node };
