/** Concrete values and the index arithmetic the reference evaluation of every op shares. */
import type { DType } from "../dtype.ts";
import { GraphError } from "../graph.ts";
import { type Dim, stridesOf } from "../shape.ts";

export type Data = Float64Array | Float32Array;

/** A concrete value: float32 data may be a Float32Array (fp32 mode); everything else is Float64Array. */
export interface Value {
  dtype: DType;
  shape: number[];
  data: Data;
}

export type Precision = "float64" | "float32";

export function alloc(dtype: DType, n: number, prec: Precision): Data {
  return prec === "float32" && (dtype === "float32" || dtype === "float16") ? new Float32Array(n) : new Float64Array(n);
}

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** For every element of `out`, the flat offset in `inp` under numpy broadcasting. */
export function bcastOffsets(inp: readonly number[], out: readonly number[]): Int32Array {
  const lead = out.length - inp.length;
  const st = stridesOf(inp as number[]);
  // a broadcast axis (missing or of size 1) does not move through `inp`
  const eff = out.map((_d, i) => (i < lead || inp[i - lead] === 1 ? 0 : st[i - lead]!));
  return bcastOffsetsStrided([...out], eff);
}

export function bcastOffsetsStrided(shape: number[], strides: number[]): Int32Array {
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

export function bshape(...shapes: number[][]): number[] {
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

export function castValue(x: number, to: DType): number {
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

/** Symbolic dims are resolved at run time from the input value (right-aligned for Expand). */
export function resolveDims(dims: readonly Dim[], x: Value, expand = false): number[] {
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

/** A Reshape to symbolic dims: the evaluator binds them and evaluates the node again. */
export class SymbolicReshape extends Error {
  constructor(readonly dims: readonly Dim[]) {
    super("symbolic reshape");
  }
}
