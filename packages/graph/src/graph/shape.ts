/**
 * Shapes with symbolic dimensions. A dim is a non-negative integer or a symbol such as "B", "T"
 * or a product "B*T" (canonical form: an optional integer factor first, then sorted symbols).
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

export class ShapeError extends Error {
  override name = "ShapeError";
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** A monomial coef * prod(symbols). */
interface Mono {
  coef: number;
  syms: string[]; // sorted, with repetition
}

function toMono(d: Dim): Mono {
  if (typeof d === "number") return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split("*")) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else syms.push(p);
  }
  syms.sort();
  return { coef, syms };
}

function fromMono(m: Mono): Dim {
  if (m.syms.length === 0) return m.coef;
  if (m.coef === 0) return 0;
  return (m.coef === 1 ? [] : [String(m.coef)]).concat(m.syms).join("*");
}

/** Canonical form of a dim ("T*B" -> "B*T", "1*B" -> "B"). */
export function canonDim(d: Dim): Dim {
  if (typeof d === "number") {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d}`);
    return d;
  }
  if (d.length === 0) throw new ShapeError("empty symbolic dimension");
  return fromMono(toMono(d));
}

export function canonShape(s: Shape): Dim[] {
  return s.map(canonDim);
}

export function dimEq(a: Dim, b: Dim): boolean {
  return canonDim(a) === canonDim(b);
}

/** Product of dims (symbolic product if any dim is symbolic). */
export function dimProd(dims: readonly Dim[]): Dim {
  const m: Mono = { coef: 1, syms: [] };
  for (const d of dims) {
    const x = toMono(d);
    m.coef *= x.coef;
    m.syms.push(...x.syms);
  }
  m.syms.sort();
  return fromMono(m);
}

/** a / b for monomials; undefined if not exact. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const x = toMono(a);
  const y = toMono(b);
  if (y.coef === 0) return undefined;
  const rest = [...x.syms];
  for (const s of y.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  const coef = x.coef / y.coef;
  if (!Number.isInteger(coef)) return undefined;
  return fromMono({ coef, syms: rest });
}

export function numel(shape: Shape): Dim {
  return dimProd(shape);
}

export function staticNumel(shape: Shape): number {
  const n = numel(shape);
  if (typeof n !== "number") throw new ShapeError(`shape ${fmtShape(shape)} is not static`);
  return n;
}

/** Numpy-style multidirectional broadcast of several shapes. */
export function broadcastShapes(...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = canonDim(s[k]);
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) throw new ShapeError(`cannot broadcast shapes ${shapes.map(fmtShape).join(" and ")} (dim ${d} vs ${e})`);
    }
    out.push(d);
  }
  return out;
}

/** Axes of `out` (rank-aligned to the right) over which `inp` was broadcast. */
export function broadcastAxes(inp: Shape, out: Shape): { reduce: number[]; leading: number } {
  const leading = out.length - inp.length;
  const reduce: number[] = [];
  for (let i = 0; i < out.length; i++) {
    if (i < leading) reduce.push(i);
    else if (canonDim(inp[i - leading]) === 1 && canonDim(out[i]) !== 1) reduce.push(i);
  }
  return { reduce, leading };
}

export function normAxis(axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new ShapeError(`${what} ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export function normAxes(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(a, rank));
  if (new Set(out).size !== out.length) throw new ShapeError(`duplicate axes ${axes.join(",")}`);
  return out.sort((a, b) => a - b);
}

export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

/** Bind symbolic dims to numbers. Products of symbols are evaluated. */
export function bindShape(shape: Shape, dims: Record<string, number>): Dim[] {
  return shape.map((d) => {
    if (typeof d === "number") return d;
    const m = toMono(d);
    let v = m.coef;
    for (const s of m.syms) {
      if (!(s in dims)) return d;
      v *= dims[s];
    }
    return v;
  });
}
