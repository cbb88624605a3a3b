/**
 * Small models built in code (random init), used by tests, the benchmark and as examples of the
 * ModelFn contract: create inputs and params in the graph, return the loss (and metrics).
 */
import { type Graph, type Tensor, init } from "./graph/graph.ts";
import { crossEntropy, embedding, gelu, linear, logSoftmax, rmsNorm, selfAttention, silu } from "./graph/nn.ts";
import type { ModelFn } from "./trainer.ts";

export interface MlpConfig {
  batch: number | string;
  inDim: number;
  hidden: number;
  classes: number;
  seed?: number;
}

/** 2-layer MLP classifier: x [B, in] float32, y [B] int32; metrics: accuracy. */
export function mlp(cfg: MlpConfig): ModelFn {
  return (g) => {
    const s = cfg.seed ?? 1;
    const x = g.input("x", "float32", [cfg.batch, cfg.inDim]);
    const y = g.input("y", "int32", [cfg.batch]);
    const w1 = g.param("w1", [cfg.inDim, cfg.hidden], { init: init.normal(1 / Math.sqrt(cfg.inDim), s) });
    const b1 = g.param("b1", [cfg.hidden], { init: init.zeros() });
    const w2 = g.param("w2", [cfg.hidden, cfg.classes], { init: init.normal(1 / Math.sqrt(cfg.hidden), s + 1) });
    const b2 = g.param("b2", [cfg.classes], { init: init.zeros() });
    const h = g.tanh(linear(x, w1, b1));
    const logits = linear(h, w2, b2);
    const loss = crossEntropy(logits, y);
    // accuracy: the label's log-prob is the largest one
    const lsm = logSoftmax(logits, -1);
    const lp = g.squeeze(g.gatherElements(lsm, g.unsqueeze(y, 1), -1), 1);
    const correct = g.cast(g.greater(g.add(lp, 1e-6), g.reduceMax(lsm, -1)), "float32");
    return { loss, metrics: { accuracy: g.reduceMean(correct) } };
  };
}

export interface BlockConfig {
  batch: number | string;
  seq: number | string;
  vocab: number;
  dim: number;
  heads: number;
  /** MLP hidden size (default 4 * dim). */
  hidden?: number;
  layers?: number;
  seed?: number;
  act?: "silu" | "gelu";
}

/** Transformer block params + forward: pre-RMSNorm attention and MLP with residuals. */
export function transformerBlock(g: Graph, x: Tensor, cfg: BlockConfig, prefix: string, seed: number): Tensor {
  const D = cfg.dim;
  const H = cfg.hidden ?? 4 * D;
  const std = 0.02;
  const p = (n: string, shape: number[], k: number) => g.param(`${prefix}.${n}`, shape, { init: init.normal(std, seed * 100 + k) });
  const n1 = g.param(`${prefix}.norm1`, [D], { init: init.ones() });
  const n2 = g.param(`${prefix}.norm2`, [D], { init: init.ones() });
  const att = selfAttention(
    rmsNorm(x, n1),
    { wq: p("wq", [D, D], 1), wk: p("wk", [D, D], 2), wv: p("wv", [D, D], 3), wo: p("wo", [D, D], 4) },
    cfg.heads,
    true,
  );
  const h = g.add(x, att);
  const act = cfg.act === "gelu" ? gelu : silu;
  const m = linear(act(linear(rmsNorm(h, n2), p("w1", [D, H], 5))), p("w2", [H, D], 6));
  return g.add(h, m);
}

/** A tiny causal language model: embedding, L blocks, final norm, tied output head. */
export function tinyLM(cfg: BlockConfig): ModelFn {
  return (g) => {
    const seed = cfg.seed ?? 1;
    const ids = g.input("ids", "int32", [cfg.batch, cfg.seq]);
    const labels = g.input("labels", "int32", [cfg.batch, cfg.seq]);
    const emb = g.param("emb", [cfg.vocab, cfg.dim], { init: init.normal(0.1, seed) });
    let x = embedding(emb, ids);
    for (let l = 0; l < (cfg.layers ?? 1); l++) x = transformerBlock(g, x, cfg, `l${l}`, seed + l + 1);
    const nf = g.param("normf", [cfg.dim], { init: init.ones() });
    const logits = g.matmul(rmsNorm(x, nf), g.transpose(emb, [1, 0]));
    return { loss: crossEntropy(logits, labels) };
  };
}

/** Deterministic synthetic batches. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
