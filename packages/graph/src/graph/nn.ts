/**
 * Composite layers written in primitive ops, plus RMSNorm as ORT's SimplifiedLayerNormalization
 * (everything here stays on the WebGPU EP: no LogSoftmax, OneHot, Range, ConstantOfShape,
 * SoftmaxCrossEntropyLoss or int64 arithmetic).
 */
import type { Graph, Tensor } from "./graph.ts";

/** log-softmax = (x - max) - log(sum(exp(x - max))); the max is a constant for the gradient. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const g = x.graph;
  const m = g.stopGradient(g.reduceMax(x, axis, true));
  const s = g.sub(x, m);
  return g.sub(s, g.log(g.reduceSum(g.exp(s), axis, true)));
}

/** log p(label) per position: logits [..., V], labels int32 [...] -> [...]. */
export function labelLogProbs(logits: Tensor, labels: Tensor): Tensor {
  const g = logits.graph;
  const lp = logSoftmax(logits, -1);
  return g.squeeze(g.gatherElements(lp, g.unsqueeze(labels, labels.rank), -1), labels.rank);
}

/**
 * Mean cross-entropy over positions; with `mask` (float, 1 = counted) the mean is over the
 * masked positions (sum(mask) must be > 0).
 */
export function crossEntropy(logits: Tensor, labels: Tensor, mask?: Tensor): Tensor {
  const g = logits.graph;
  const lp = labelLogProbs(logits, labels);
  if (!mask) return g.neg(g.reduceMean(lp));
  return g.neg(g.div(g.reduceSum(g.mul(lp, mask)), g.reduceSum(mask)));
}

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight, one kernel (ORT's contrib op). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return x.graph.simplifiedLayerNorm(x, weight, eps);
}

/** LayerNorm over the last axis. */
export function layerNorm(x: Tensor, weight: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  const g = x.graph;
  const mu = g.reduceMean(x, -1, true);
  const d = g.sub(x, mu);
  const v = g.reduceMean(g.mul(d, d), -1, true);
  const y = g.mul(g.mul(d, g.reciprocal(g.sqrt(g.add(v, eps)))), weight);
  return bias ? g.add(y, bias) : y;
}

/** x @ w (+ b); w is [in, out]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const g = x.graph;
  const y = g.matmul(x, w);
  return b ? g.add(y, b) : y;
}

export function silu(x: Tensor): Tensor {
  return x.graph.mul(x, x.graph.sigmoid(x));
}

/** GELU, tanh approximation (as GPT-2). */
export function geluTanh(x: Tensor): Tensor {
  const g = x.graph;
  const inner = g.mul(g.add(x, g.mul(g.mul(g.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return g.mul(g.mul(x, 0.5), g.add(g.tanh(inner), 1));
}

/** GELU with erf. */
export function gelu(x: Tensor): Tensor {
  const g = x.graph;
  return g.mul(g.mul(x, 0.5), g.add(g.erf(g.mul(x, Math.SQRT1_2)), 1));
}

const NEG = -1e9;

/**
 * Causal masking of attention scores [..., T, T]: positions above the diagonal get -1e9.
 * Static T uses a constant additive mask; symbolic T uses Trilu (both stay on the GPU).
 */
export function causalMask(scores: Tensor): Tensor {
  const g = scores.graph;
  const T = scores.shape[scores.rank - 1];
  if (typeof T === "number" && scores.shape[scores.rank - 2] === T) {
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = NEG;
    return g.add(scores, g.constant(m, [T, T]));
  }
  const keep = g.trilu(g.expandLike(g.scalar(1, scores.dtype), scores), false, 0);
  return g.add(scores, g.mul(g.sub(keep, 1), -NEG));
}

export interface AttentionWeights {
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
}

/** Multi-head self-attention on x [B, T, D] with nHeads heads; weights [D, D]. */
export function selfAttention(x: Tensor, w: AttentionWeights, nHeads: number, causal = true): Tensor {
  const g = x.graph;
  const D = x.shape[2] as number;
  const hd = D / nHeads;
  if (!Number.isInteger(hd)) throw new Error(`selfAttention: D=${D} not divisible by ${nHeads} heads`);
  const heads = (t: Tensor) => g.transpose(g.reshape(t, [0, 0, nHeads, hd]), [0, 2, 1, 3]); // [B,H,T,hd]
  const q = heads(linear(x, w.wq));
  const k = heads(linear(x, w.wk));
  const v = heads(linear(x, w.wv));
  let s = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd));
  if (causal) s = causalMask(s);
  const p = g.softmax(s, -1);
  const o = g.reshape(g.transpose(g.matmul(p, v), [0, 2, 1, 3]), [0, 0, D]);
  return linear(o, w.wo);
}

export function embedding(table: Tensor, ids: Tensor): Tensor {
  return table.graph.gather(table, ids, 0);
}

export type { Graph, Tensor };
