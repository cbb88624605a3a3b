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
