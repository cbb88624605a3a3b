/**
 * AdamW as graph ops, with PyTorch semantics (torch.optim.AdamW, foreach=False):
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc_i = 1 - b_i^t
 * lr and the bias corrections are scalar graph inputs computed on the host each step, so one
 * session serves every step and any schedule. Global-norm clipping follows
 * torch.nn.utils.clip_grad_norm_: coef = min(1, max_norm / (norm + 1e-6)).
 */
import type { Graph, Tensor } from "../graph/graph.ts";

export interface AdamWConfig {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };

/** Scalar inputs of the update graph, fed each step. */
export interface AdamWHyper {
  lr: Tensor;
  /** 1 - beta1^t */
  bc1: Tensor;
  /** sqrt(1 - beta2^t) */
  bc2sqrt: Tensor;
}

export function adamwHyperInputs(g: Graph): AdamWHyper {
  return {
    lr: g.input("opt.lr", "float32", []),
    bc1: g.input("opt.bc1", "float32", []),
    bc2sqrt: g.input("opt.bc2sqrt", "float32", []),
  };
}

/** Host values of the hyper inputs for optimizer step t (1-based). */
export function adamwHyperValues(lr: number, t: number, betas: [number, number]): Record<string, number> {
  return { "opt.lr": lr, "opt.bc1": 1 - betas[0] ** t, "opt.bc2sqrt": Math.sqrt(1 - betas[1] ** t) };
}

/** One AdamW update of one parameter; returns the new param and moments. */
export function adamwUpdate(
  g: Graph,
  p: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamWHyper,
  cfg: { betas: [number, number]; eps: number; weightDecay: number },
): { p: Tensor; m: Tensor; v: Tensor } {
  const [b1, b2] = cfg.betas;
  const m2 = g.add(g.mul(m, b1), g.mul(grad, 1 - b1));
  const v2 = g.add(g.mul(v, b2), g.mul(g.mul(grad, grad), 1 - b2));
  const pd = cfg.weightDecay ? g.mul(p, g.sub(1, g.mul(h.lr, cfg.weightDecay))) : p;
  const denom = g.add(g.div(g.sqrt(v2), h.bc2sqrt), cfg.eps);
  const stepSize = g.div(h.lr, h.bc1);
  const p2 = g.sub(pd, g.mul(stepSize, g.div(m2, denom)));
  return { p: p2, m: m2, v: v2 };
}

/** Global L2 norm of all gradients and (if maxNorm > 0) the clipped gradients. */
export function clipByGlobalNorm(g: Graph, grads: Tensor[], maxNorm: number): { grads: Tensor[]; norm: Tensor } {
  let sq: Tensor | undefined;
  for (const t of grads) {
    const s = g.reduceSum(g.mul(t, t));
    sq = sq ? g.add(sq, s) : s;
  }
  const dt = grads[0]?.dtype ?? "float32";
  const norm = g.sqrt(sq ?? g.scalar(0, dt));
  if (!(maxNorm > 0)) return { grads, norm };
  const coef = g.minimum(g.div(g.scalar(maxNorm, dt), g.add(norm, 1e-6)), 1);
  return { grads: grads.map((t) => g.mul(t, coef)), norm };
}

/** sqrt(sum of squares) over several tensors (a scalar). */
export function globalNorm(g: Graph, ts: Tensor[]): Tensor {
  let sq: Tensor | undefined;
  for (const t of ts) {
    const s = g.reduceSum(g.mul(t, t));
    sq = sq ? g.add(sq, s) : s;
  }
  return g.sqrt(sq ?? g.scalar(0));
}

/** clip_grad_norm_'s coefficient: min(1, maxNorm / (norm + 1e-6)). */
export function clipCoef(g: Graph, norm: Tensor, maxNorm: number): Tensor {
  return g.minimum(g.div(g.scalar(maxNorm, norm.dtype), g.add(norm, 1e-6)), 1);
}

/** Concatenate tensors flattened to 1-D (one copy). */
export function flatten(g: Graph, ts: Tensor[]): Tensor {
  return g.concat(
    ts.map((t) => (t.rank === 1 ? t : g.reshape(t, [-1]))),
    0,
  );
}

/**
 * Group tensors (by element count, in order) into buckets of at most `maxElements` (a tensor
 * larger than that gets a bucket of its own). Buckets keep each flat buffer under WebGPU's
 * maxStorageBufferBindingSize.
 */
export function planBuckets(sizes: number[], maxElements: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let n = 0;
  sizes.forEach((sz, i) => {
    if (cur.length && n + sz > maxElements) {
      out.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(i);
    n += sz;
  });
  if (cur.length) out.push(cur);
  return out;
}

/**
 * AdamW over one bucket with flat moments: the same update as `adamwUpdate`, computed on a 1-D
 * concatenation of the bucket's gradients, so one step costs ~10 kernels per bucket plus 2 per
 * parameter (instead of ~13 per parameter). `coef` scales the gradient (clipping, accumulation
 * mean); it is folded into the scalar factors. The denominator is rearranged as
 * m * (lr/bc1 * c) / (sqrt(v) + eps * c) with c = sqrt(bc2), equal to torch's
 * (lr/bc1) * m / (sqrt(v)/c + eps).
 */
export function adamwFlatUpdate(
  g: Graph,
  params: Tensor[],
  decay: number[],
  flatGrad: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamWHyper,
  cfg: { betas: [number, number]; eps: number },
  coef?: Tensor,
): { params: Tensor[]; m: Tensor; v: Tensor } {
  const [b1, b2] = cfg.betas;
  const sm = coef ? g.mul(coef, 1 - b1) : g.scalar(1 - b1);
  const sv = coef ? g.mul(g.mul(coef, coef), 1 - b2) : g.scalar(1 - b2);
  const m2 = g.add(g.mul(m, b1), g.mul(flatGrad, sm));
  const v2 = g.add(g.mul(v, b2), g.mul(g.mul(flatGrad, flatGrad), sv));
  const stepScale = g.mul(g.div(h.lr, h.bc1), h.bc2sqrt);
  const epsc = g.mul(h.bc2sqrt, cfg.eps);
  const u = g.mul(g.div(m2, g.add(g.sqrt(v2), epsc)), stepScale);
  const sizes = params.map((p) => (p.shape as number[]).reduce((a, b) => a * b, 1));
  const parts = g.split(u, sizes, 0);
  const out = params.map((p, i) => {
    const pd = decay[i] ? g.mul(p, g.sub(1, g.mul(h.lr, decay[i]))) : p;
    return g.sub(pd, p.rank === 1 ? parts[i] : g.reshape(parts[i], p.shape));
  });
  return { params: out, m: m2, v: v2 };
}

// ---- learning-rate schedules (multipliers of the base lr, as the HF/TRL schedulers) ----

export type ScheduleConfig =
  | { type: "constant"; warmupSteps?: number }
  | { type: "linear"; warmupSteps?: number; totalSteps: number }
  | { type: "cosine"; warmupSteps?: number; totalSteps: number; minRatio?: number };

/** The lr multiplier for optimizer step `step` (0-based: steps already taken). */
export function scheduleMultiplier(s: ScheduleConfig | ((step: number) => number) | undefined, step: number): number {
  if (!s) return 1;
  if (typeof s === "function") return s(step);
  const w = s.warmupSteps ?? 0;
  if (step < w) return step / Math.max(1, w);
  if (s.type === "constant") return 1;
  const progress = (step - w) / Math.max(1, s.totalSteps - w);
  if (s.type === "linear") return Math.max(0, 1 - progress);
  const min = s.minRatio ?? 0;
  return min + (1 - min) * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}
