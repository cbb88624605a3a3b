/** What several ops' gradient rules share. */
import type { Graph, Tensor } from "../graph.ts";
import { broadcastAxes, dimEq } from "../shape.ts";

/** Slice's "to the end". */
export const END = 2 ** 31 - 1;

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

export function transposeLast2(g: Graph, t: Tensor): Tensor {
  const p = t.shape.map((_, i) => i);
  [p[t.rank - 2], p[t.rank - 1]] = [p[t.rank - 1], p[t.rank - 2]];
  return g.transpose(t, p);
}

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
