/**
 * The decoder as an incremental (KV-cache) graph for generation, built from the model config and
 * the same parameter names and layout as the training graph (src/model/decoder.ts).
 *
 * One graph serves both phases. The cache is a fixed-length buffer per layer, `[N, KV, L, hd]`
 * (L = longest prompt + max new tokens), resident on the engine's device between runs; a run
 * writes the keys/values of its S new tokens into slots `pos..pos+S-1` (ScatterElements along the
 * time axis) and attends over all L slots through an additive bias fed by the host (0 where a
 * query may attend a slot, -1e9 elsewhere: future slots, padding, unwritten slots).
 *   prefill: S = prompt length (left-padded batch), pos = 0
 *   decode:  S = 1, pos = prompt length + step
 * Only the last position's logits `[N, V]` are computed. Grouped-query attention is computed
 * without repeating K/V: the H query heads are regrouped as [N, KV, rep, S, hd] and multiplied
 * with [N, KV, 1, L, hd] (MatMul broadcasts the group axis), so the cache is read once per KV head.
 *
 * Inputs: ids [N,S] int32; cos, sin [N,1,S,hd]; write_idx [1,1,S,1] int32 (slot of each new
 * token); last [] int32 (= S-1); bias [N,1,1,S,L]; past.<l>.key / past.<l>.value [N,KV,L,hd];
 * the parameters (graph inputs, uploaded once). Outputs: logits [N,V]; present.<l>.key/value.
 */
import { Graph, type Tensor, nn } from "@iopo/graph";
import type { DecoderConfig } from "../model/config.ts";
import { type LinearModule, type ModelWeights, asF32, modulePath, paramShapes } from "../model/decoder.ts";
const { rmsNorm, silu } = nn;

export const pastName = (layer: number, kv: "key" | "value") => `past.${layer}.${kv}`;
export const presentName = (layer: number, kv: "key" | "value") => `present.${layer}.${kv}`;

export interface DecodeGraph {
  graph: Graph;
  outputs: Record<string, Tensor>;
}

/**
 * Build the incremental decoder. Parameters are declared with the given weights (by HF name,
 * trainer layout); they become graph inputs at emission, so the weights are uploaded once and
 * fed as device tensors.
 */
export function buildDecodeGraph(c: DecoderConfig, weights: ModelWeights): DecodeGraph {
  const g = new Graph();
  const params = new Map<string, Tensor>();
  for (const [name, shape] of paramShapes(c)) {
    const data = weights.get(name);
    if (!data) throw new Error(`missing weight ${name}`);
    params.set(name, g.param(name, shape, { init: asF32(data), trainable: false }));
  }
  const p = (name: string) => {
    const t = params.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  };
  const H = c.numHeads;
  const KV = c.numKvHeads;
  const hd = c.headDim;
  const rep = H / KV;
  const scale = 1 / Math.sqrt(hd);

  const ids = g.input("ids", "int32", ["N", "S"]);
  const cos = g.input("cos", "float32", ["N", 1, "S", hd]);
  const sin = g.input("sin", "float32", ["N", 1, "S", hd]);
  const writeIdx = g.input("write_idx", "int32", [1, 1, "S", 1]);
  const last = g.input("last", "int32", []);

  const linear = (path: string, x: Tensor) => {
    let y = g.matmul(x, p(`${path}.weight`));
    if (params.has(`${path}.bias`)) y = g.add(y, p(`${path}.bias`));
    return y;
  };
  const rotateHalf = (x: Tensor) => {
    const half = hd / 2;
    return g.concat([g.neg(g.slice(x, [half], [hd], [-1])), g.slice(x, [0], [half], [-1])], x.rank - 1);
  };
  const rope = (x: Tensor) => g.add(g.mul(x, cos), g.mul(rotateHalf(x), sin));
  const heads = (t: Tensor, n: number) => g.transpose(g.reshape(t, [0, 0, n, hd]), [0, 2, 1, 3]); // [N, n, S, hd]

  const outputs: Record<string, Tensor> = {};
  let bias: Tensor | undefined;
  let x = g.gather(p("model.embed_tokens.weight"), ids, 0); // [N, S, D]
  for (let l = 0; l < c.numLayers; l++) {
    const pre = `model.layers.${l}`;
    const path = (m: LinearModule) => modulePath(l, m);
    const h = rmsNorm(x, p(`${pre}.input_layernorm.weight`), c.rmsNormEps);
    const q = rope(heads(linear(path("q_proj"), h), H)); // [N, H, S, hd]
    const k = rope(heads(linear(path("k_proj"), h), KV)); // [N, KV, S, hd]
    const v = heads(linear(path("v_proj"), h), KV);
    const pastK = g.input(pastName(l, "key"), "float32", ["N", KV, "L", hd]);
    const pastV = g.input(pastName(l, "value"), "float32", ["N", KV, "L", hd]);
    const idx = g.expandLike(writeIdx, k);
    const K = g.scatterElements(pastK, idx, k, 2);
    const V = g.scatterElements(pastV, idx, v, 2);
    outputs[presentName(l, "key")] = K;
    outputs[presentName(l, "value")] = V;
    // query heads j*rep .. j*rep+rep-1 share KV head j: [N, KV, rep, S, hd] against [N, KV, 1, L, hd]
    // (MatMul broadcasts the group axis, so K and V are never repeated)
    const qg = g.reshape(q, [0, KV, rep, -1, hd]);
    const Kg = g.unsqueeze(K, 2);
    const Vg = g.unsqueeze(V, 2);
    let scores = g.mul(g.matmul(qg, g.transpose(Kg, [0, 1, 2, 4, 3])), scale); // [N, KV, rep, S, L]
    bias ??= g.input("bias", "float32", ["N", 1, 1, "S", "L"]);
    scores = g.add(scores, bias);
    const probs = g.softmax(scores, -1);
    const o4 = g.reshape(g.matmul(probs, Vg), [0, H, -1, hd]); // [N, H, S, hd]
    const o = g.reshape(g.transpose(o4, [0, 2, 1, 3]), [0, 0, H * hd]);
    x = g.add(x, linear(path("o_proj"), o));
    const h2 = rmsNorm(x, p(`${pre}.post_attention_layernorm.weight`), c.rmsNormEps);
    const gate = silu(linear(path("gate_proj"), h2));
    const up = linear(path("up_proj"), h2);
    x = g.add(x, linear(path("down_proj"), g.mul(gate, up)));
  }
  const hLast = g.gather(rmsNorm(x, p("model.norm.weight"), c.rmsNormEps), last, 1); // [N, D]
  outputs.logits = c.tieWordEmbeddings
    ? g.transpose(g.matmul(p("model.embed_tokens.weight"), g.transpose(hLast, [1, 0])), [1, 0]) // [V,D]@[D,N] -> [N,V]
    : g.matmul(hLast, p("lm_head.weight"));
  return { graph: g, outputs };
}

/** Parameter names the decode graph reads (all base weights). */
export function decodeParamNames(c: DecoderConfig): string[] {
  return [...paramShapes(c).keys()];
}
