/**
 * Preference and SFT losses on per-row sequence log-probs, as graph ops, with TRL's metric names.
 *
 * Rows come in blocks of B (one row per example in each block), so `logps` [K*B] reshapes to
 * [K, B] without knowing B at build time. Block orders (IOPO's reference code for the 4 blocks):
 *   iopo:      [x1+y1 | x1+y2 | x2+y2 | x2+y1]      a = h(y1|x1), b = h(y2|x1), d = h(y2|x2), c = h(y1|x2)
 *   iopo-lite: [x1+y1 | x1+y2 | x2+y1]              a, b, c
 *   dpo:       [prompt+chosen | prompt+rejected]
 *   sft:       [prompt+response]
 * where h(y|x) = log pi_theta(y|x) - log pi_ref(y|x).
 */
import type { Tensor } from "@iopo/graph";

export const METHODS = ["iopo", "iopo-lite", "dpo", "sft"] as const;
export type Method = (typeof METHODS)[number];

/** Blocks (rows per example) of each method's batch layout. */
export const BLOCKS: Record<Method, readonly string[]> = {
  iopo: ["x1y1", "x1y2", "x2y2", "x2y1"],
  "iopo-lite": ["x1y1", "x1y2", "x2y1"],
  dpo: ["chosen", "rejected"],
  sft: ["response"],
};

export const needsReference = (m: Method) => m !== "sft";

export interface LossOptions {
  beta: number;
  /** Conservative label smoothing eps: -(1-eps) log s(z) - eps log s(-z). */
  labelSmoothing?: number;
  /** Weight of the SFT term -(log pi(y1|x1)/|y1| + log pi(y2|x2)/|y2|) (IOPO; DPO: chosen). */
  prefFtx?: number;
}

export interface LossInputs {
  /** Policy log-probs per row [K*B]. */
  policy: Tensor;
  /** Reference log-probs per row [K*B] (preference methods). */
  reference?: Tensor;
  /** Scored response tokens per row [K*B] (float). */
  tokens: Tensor;
}

/** log sigmoid(z) = min(z, 0) - log(1 + exp(-|z|)), stable for any z. */
export function logSigmoid(z: Tensor): Tensor {
  const g = z.graph;
  return g.sub(g.minimum(z, 0), g.log(g.add(g.exp(g.neg(g.abs(z))), 1)));
}

/** -(1-eps) log s(z) - eps log s(-z), per example. */
function sigmoidLoss(z: Tensor, eps: number): Tensor {
  const g = z.graph;
  const pos = g.neg(logSigmoid(z));
  if (!eps) return pos;
  return g.add(g.mul(pos, 1 - eps), g.mul(g.neg(logSigmoid(g.neg(z))), eps));
}

export interface LossOutputs {
  loss: Tensor;
  metrics: Record<string, Tensor>;
}

/** Split a [K*B] vector into its K blocks of [B]. */
function blocks(t: Tensor, k: number): Tensor[] {
  const g = t.graph;
  if (k === 1) return [t];
  const m = g.reshape(t, [k, -1]);
  return g.split(m, Array(k).fill(1), 0).map((b) => g.squeeze(b, 0));
}

export function buildLoss(method: Method, inp: LossInputs, opts: LossOptions): LossOutputs {
  const g = inp.policy.graph;
  const names = BLOCKS[method];
  const K = names.length;
  const pol = blocks(inp.policy, K);
  const mean = (t: Tensor) => g.reduceMean(t);
  const gt = (x: Tensor, y: Tensor) => g.cast(g.greater(x, y), "float32");
  const metrics: Record<string, Tensor> = {};
  names.forEach((n, i) => (metrics[`logps/${n}`] = mean(pol[i])));

  if (method === "sft") {
    // token-level mean over the micro-batch, as TRL's SFTTrainer
    const loss = g.neg(g.div(g.reduceSum(inp.policy), g.maximum(g.reduceSum(inp.tokens), 1)));
    return { loss, metrics };
  }
  if (!inp.reference) throw new Error(`${method} needs reference log-probs`);
  const beta = opts.beta;
  const eps = opts.labelSmoothing ?? 0;
  const ref = blocks(inp.reference, K);
  const h = pol.map((p, i) => g.sub(p, ref[i]));
  names.forEach((n, i) => (metrics[`rewards/${n}`] = mean(g.mul(h[i], beta))));
  const len = blocks(inp.tokens, K).map((t) => g.maximum(t, 1));

  let z: Tensor;
  let sft: Tensor | undefined;
  if (method === "iopo") {
    const [a, b, d, c] = h;
    // -log s(1/2 (Pi1 + Pi2)) with Pi1 = beta (2a - b - c), Pi2 = beta (2d - c - b)
    //   = -log s(beta ((a + d) - (b + c)))
    z = g.mul(g.sub(g.add(a, d), g.add(b, c)), beta);
    const accX1 = gt(a, b);
    const accX2 = gt(d, c);
    metrics["rewards/accuracies_x1"] = mean(accX1);
    metrics["rewards/accuracies_x2"] = mean(accX2);
    metrics["rewards/accuracies"] = mean(g.mul(g.add(accX1, accX2), 0.5));
    if (opts.prefFtx) sft = g.neg(g.add(g.div(pol[0], len[0]), g.div(pol[2], len[2])));
  } else if (method === "iopo-lite") {
    const [a, b, c] = h;
    z = g.sub(g.mul(a, 2 * beta), g.mul(g.add(b, c), beta));
    metrics["rewards/accuracies_x1"] = mean(gt(a, b));
    metrics["rewards/accuracies"] = mean(g.mul(g.add(gt(a, b), gt(a, c)), 0.5));
    if (opts.prefFtx) sft = g.neg(g.div(pol[0], len[0]));
  } else {
    const [chosen, rejected] = h;
    z = g.mul(g.sub(chosen, rejected), beta);
    metrics["rewards/accuracies"] = mean(gt(chosen, rejected));
    if (opts.prefFtx) sft = g.neg(g.div(pol[0], len[0]));
  }
  metrics["rewards/margins"] = mean(z);
  let loss = mean(sigmoidLoss(z, eps));
  if (sft) {
    metrics.sft_loss = mean(sft);
    loss = g.add(loss, g.mul(mean(sft), opts.prefFtx!));
  }
  return { loss, metrics };
}
