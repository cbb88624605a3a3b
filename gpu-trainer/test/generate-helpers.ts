/** Shared by the generation tests: a decisive tiny model and greedy decoding by full recompute. */
import { compile, Graph, type Engine, init } from "@iopo/graph";
import { type DecoderConfig, ropeTables } from "../src/model/config.ts";
import {
  LINEAR_MODULES,
  type LoraConfig,
  type ModelWeights,
  declareParams,
  decoderLogits,
  linearShape,
  loraNames,
} from "../src/model/decoder.ts";
import { createTinyModel } from "../src/model/index.ts";
import { argmax } from "../src/generate/index.ts";

/** Random weights with a larger scale, so greedy choices are decisive (no near-ties). */
export function peaky(name: string, seed: number) {
  const m = createTinyModel(name, seed);
  const w: ModelWeights = new Map();
  for (const [k, v] of m.weights) w.set(k, k.endsWith("norm.weight") ? v : v.map((x) => x * 8));
  return { ...m, weights: w };
}

/** Greedy decoding by recomputing the full (unpadded) sequence with the training graph. */
export async function recomputeGreedy(
  engine: Engine,
  m: ReturnType<typeof peaky>,
  prompt: number[],
  steps: number,
): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const V = m.config.vocabSize;
  const seq = [...prompt];
  const out: number[] = [];
  const all: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    const logits = await fullSequenceLogits(engine, m.config, m.weights, undefined, seq);
    const last = logits.slice((seq.length - 1) * V, seq.length * V);
    all.push(last);
    const next = argmax(last);
    out.push(next);
    seq.push(next);
  }
  return { tokens: out, logits: all };
}

export const PROMPTS = (tok: ReturnType<typeof createTinyModel>["tokenizer"]) =>
  ["Write a short text about owls.", "Write a short text about tea.\nAnswer with at least 12 words.\nDo not use any commas.", "Hello"].map(
    (p) => tok.encodePrompt([{ role: "user", content: p }]),
  );

/** LoRA on every linear module with random A and B (B nonzero, unlike a fresh adapter), so the adapters move the logits. */
export function randomLora(c: DecoderConfig, seed: number): { config: LoraConfig; weights: ModelWeights } {
  const config: LoraConfig = { rank: 4, alpha: 8, targets: [...LINEAR_MODULES] };
  const weights: ModelWeights = new Map();
  let k = 0;
  for (let l = 0; l < c.numLayers; l++)
    for (const m of config.targets) {
      const [i, o] = linearShape(c, m);
      const n = loraNames(l, m);
      weights.set(n.a, init.normal(1 / Math.sqrt(i), seed * 1000 + k++)(i * config.rank) as Float32Array);
      weights.set(n.b, init.normal(0.02, seed * 1000 + k++)(config.rank * o) as Float32Array);
    }
  return { config, weights };
}

/** The training graph's logits [T, V] at every position of one unpadded sequence. */
export async function fullSequenceLogits(
  engine: Engine,
  c: DecoderConfig,
  weights: ModelWeights,
  lora: { config: LoraConfig; weights: ModelWeights } | undefined,
  seq: readonly number[],
): Promise<Float32Array> {
  const g = new Graph();
  const p = declareParams(g, c, weights, { trainable: false, lora: lora?.config, loraInit: lora?.weights });
  const T = seq.length;
  const ids = g.input("ids", "int32", [1, T]);
  const keyMask = g.input("mask", "float32", [1, T]);
  const cos = g.input("cos", "float32", [T, c.headDim]);
  const sin = g.input("sin", "float32", [T, c.headDim]);
  const s = await engine.createSession(compile({ logits: decoderLogits(p, { ids, keyMask, cos, sin }) }, { paramsAsInputs: false }));
  const t = ropeTables(c, T);
  const r = await s.run(
    {
      ids: { dtype: "int32", shape: [1, T], data: Int32Array.from(seq) },
      mask: { dtype: "float32", shape: [1, T], data: new Float32Array(T).fill(1) },
      cos: { dtype: "float32", shape: [T, c.headDim], data: t.cos },
      sin: { dtype: "float32", shape: [T, c.headDim], data: t.sin },
    },
    { logits: "host" },
  );
  await s.release();
  return r.host.logits.data as Float32Array;
}
