/**
 * The decoder as an incremental (KV-cache) graph for generation: the training graph's decoder
 * (src/model/decoder.ts, the same layer builder, parameter names and layout) run with a cache.
 *
 * One graph serves both phases. The cache is a fixed-length buffer per layer, `[N, KV, L, hd]`
 * (L = longest prompt + max new tokens), resident on the engine's device between runs; a run
 * writes the keys/values of its S new tokens into slots `pos..pos+S-1` (ScatterElements along the
 * time axis) and attends over all L slots through an additive bias fed by the host (0 where a
 * query may attend a slot, -1e9 elsewhere: future slots, padding, unwritten slots).
 *   prefill: S = prompt length (left-padded batch), pos = 0
 *   decode:  S = 1, pos = prompt length + step
 * Only the last position's logits `[N, V]` are computed.
 *
 * Inputs: ids [N,S] int32; cos, sin [N,1,S,hd]; write_idx [1,1,S,1] int32 (slot of each new
 * token); last [] int32 (= S-1); bias [N,1,1,S,L]; past.<l>.key / past.<l>.value [N,KV,L,hd];
 * the parameters (graph inputs, uploaded once). Outputs: logits [N,V]; present.<l>.key/value.
 */
import { Graph, type Tensor } from "@iopo/graph";
import type { DecoderConfig } from "../model/config.ts";
import { type LoraConfig, type ModelWeights, declareParams, decoderHiddenCached } from "../model/decoder.ts";

export const pastName = (layer: number, kv: "key" | "value") => `past.${layer}.${kv}`;
export const presentName = (layer: number, kv: "key" | "value") => `present.${layer}.${kv}`;

export interface DecodeGraph {
  graph: Graph;
  outputs: Record<string, Tensor>;
}

/**
 * Build the incremental decoder. Parameters are declared with the given weights (by HF name,
 * trainer layout), and LoRA adapters applied unmerged when given; they become graph inputs at
 * emission, so the weights are uploaded once and fed as device tensors.
 */
export function buildDecodeGraph(
  c: DecoderConfig,
  weights: ModelWeights,
  lora?: { config: LoraConfig; weights: ModelWeights },
  /** Whether the engine runs float16 (Engine.float16): a 16-bit base stays fp16 where it does. */
  float16?: boolean,
): DecodeGraph {
  const g = new Graph();
  const p = declareParams(g, c, weights, { trainable: false, float16, lora: lora?.config, loraInit: lora?.weights });
  const KV = c.numKvHeads;
  const hd = c.headDim;
  const ids = g.input("ids", "int32", ["N", "S"]);
  const cos = g.input("cos", "float32", ["N", 1, "S", hd]);
  const sin = g.input("sin", "float32", ["N", 1, "S", hd]);
  const writeIdx = g.input("write_idx", "int32", [1, 1, "S", 1]);
  const last = g.input("last", "int32", []);
  const bias = g.input("bias", "float32", ["N", 1, 1, "S", "L"]);
  const past = Array.from({ length: c.numLayers }, (_, l) => ({
    key: g.input(pastName(l, "key"), "float32", ["N", KV, "L", hd]),
    value: g.input(pastName(l, "value"), "float32", ["N", KV, "L", hd]),
  }));

  const { hidden, present } = decoderHiddenCached(p, { ids, cos, sin }, { writeIdx, past, bias });
  const outputs: Record<string, Tensor> = {};
  present.forEach((kv, l) => {
    outputs[presentName(l, "key")] = kv.key;
    outputs[presentName(l, "value")] = kv.value;
  });
  const hLast = g.gather(hidden, last, 1); // [N, D]
  // a 16-bit base's head is fp16: cast to the hidden state's dtype at use, as the layers' weights
  const head = (name: string) => g.cast(p.get(name), hLast.dtype);
  outputs.logits = c.tieWordEmbeddings
    ? g.transpose(g.matmul(head("model.embed_tokens.weight"), g.transpose(hLast, [1, 0])), [1, 0]) // [V,D]@[D,N] -> [N,V]
    : g.matmul(hLast, head("lm_head.weight"));
  return { graph: g, outputs };
}
