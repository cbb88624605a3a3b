/**
 * Reverse-mode automatic differentiation. `grad(loss, params)` appends the backward graph to the
 * loss's graph and returns one gradient tensor per param. Every op's gradient rule is the `grad`
 * of its entry in the op table (ops/): given the op's inputs x, outputs y and the output gradients
 * gy, it returns the input gradients.
 */
import { isFloat } from "./dtype.ts";
import { GraphError, type Tensor, liveNodes } from "./graph.ts";
import { OPS, type OpDef } from "./ops/index.ts";
import { canonDim, dimEq, fmtShape, isStatic } from "./shape.ts";

export type { GradCtx, GradRule } from "./ops/op.ts";
export { unbroadcast } from "./ops/gradients.ts";

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
    const gx = (OPS[n.op] as OpDef).grad({ g, node: n, x: n.inputs, y: n.outputs, gy, needs });
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
