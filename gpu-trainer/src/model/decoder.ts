/**
 * The Llama/Qwen2 decoder as a builder graph: token embedding, pre-RMSNorm blocks with rotary
 * grouped-query attention (causal and key-padding mask) and a SwiGLU MLP, a final RMSNorm and a
 * tied or untied output projection; optional LoRA adapters on any linear layer. One layer builder
 * (decoderLayer) serves the training forward over whole sequences and generation's KV-cache
 * decoding (decoderHiddenCached, used by generate/decode-graph.ts).
 *
 * Weight layout. Parameters carry their Hugging Face names, but linear weights are stored
 * transposed ([in, out] instead of torch's [out, in]) so every projection is a plain `x @ W` on the
 * device, with no Transpose kernel in the forward or backward pass; `lm_head.weight` is [D, V].
 * The conversion happens once, on the host, when weights are loaded or saved (see weights.ts).
 */
import { type Graph, type Tensor, f16ToF32, grad, init, nn } from "@iopo/graph";
import type { DecoderConfig } from "./config.ts";
const { rmsNorm, silu } = nn;

/** Linear modules of a block, by their HF short names. */
export const LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/**
 * A weight's values on the host: fp32, or IEEE fp16 bits (Uint16Array) for a base loaded from a
 * 16-bit checkpoint, which stays 16-bit on the host and, where it does not train, on the device.
 */
export type WeightData = Float32Array | Uint16Array;

/** Weights in the trainer's layout (see the file comment), by HF name. */
export type ModelWeights = Map<string, WeightData>;

/** A weight as fp32 values (fp16 bits widened into a new array; fp32 as it is). */
export function asF32(data: WeightData): Float32Array {
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f16ToF32(data[i]);
  return out;
}

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Module short names (q_proj, ...). */
  targets: LinearModule[];
}

export const modulePath = (layer: number, m: LinearModule): string =>
  `model.layers.${layer}.${m === "gate_proj" || m === "up_proj" || m === "down_proj" ? "mlp" : "self_attn"}.${m}`;

/** Shape of a linear module's weight in the trainer's layout: [in, out]. */
export function linearShape(c: DecoderConfig, m: LinearModule): [number, number] {
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (m) {
    case "q_proj":
      return [D, q];
    case "k_proj":
    case "v_proj":
      return [D, kv];
    case "o_proj":
      return [q, D];
    case "gate_proj":
    case "up_proj":
      return [D, c.intermediateSize];
    case "down_proj":
      return [c.intermediateSize, D];
  }
}

/** Every base parameter: name -> shape in the trainer's layout. */
export function paramShapes(c: DecoderConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  s.set("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize]);
  for (let l = 0; l < c.numLayers; l++) {
    s.set(`model.layers.${l}.input_layernorm.weight`, [c.hiddenSize]);
    s.set(`model.layers.${l}.post_attention_layernorm.weight`, [c.hiddenSize]);
    for (const m of LINEAR_MODULES) {
      const [i, o] = linearShape(c, m);
      s.set(`${modulePath(l, m)}.weight`, [i, o]);
      const bias = (c.qkvBias && (m === "q_proj" || m === "k_proj" || m === "v_proj")) || (c.oBias && m === "o_proj");
      if (bias) s.set(`${modulePath(l, m)}.bias`, [o]);
    }
  }
  s.set("model.norm.weight", [c.hiddenSize]);
  if (!c.tieWordEmbeddings) s.set("lm_head.weight", [c.hiddenSize, c.vocabSize]);
  return s;
}

/** Names of the parameters whose HF layout is the transpose of ours. */
export function isTransposedInTrainer(name: string): boolean {
  return name === "lm_head.weight" || (name.endsWith("_proj.weight") && name.startsWith("model.layers."));
}

/**
 * Vocabulary columns per head chunk (see chunkedLabelLogProbs), and vocabulary rows per parameter
 * chunk of a trained embedding and head (see vocabParamShapes): q05's 8 rows x 256 tokens hold
 * 2048 x 32768 fp32 logits at a time (256 MiB) instead of 2048 x 151,936 (1.16 GiB).
 */
export const DEFAULT_VOCAB_CHUNK = 32768;

/** The weights with a vocabulary axis, and that axis in the trainer's layout. */
const VOCAB_AXIS: Record<string, 0 | 1> = { "model.embed_tokens.weight": 0, "lm_head.weight": 1 };

/** [start, end) of each vocabulary chunk of at most `chunk` entries (0: one chunk). */
function vocabChunks(vocabSize: number, chunk: number): [number, number][] {
  const step = chunk > 0 ? chunk : vocabSize;
  const out: [number, number][] = [];
  for (let v0 = 0; v0 < vocabSize; v0 += step) out.push([v0, Math.min(vocabSize, v0 + step)]);
  return out;
}

const chunkName = (name: string, k: number) => `${name}.vocab${k}`;

/**
 * The parameters as the Trainer holds them when every weight trains: paramShapes with the
 * embedding (and an untied head) split into vocabulary chunks of `chunk` rows (columns), each its
 * own parameter `<name>.vocab<k>` in the weight's place. Then no gradient, AdamW moment or update
 * is the size of the whole vocabulary (q05's embedding is 519 MiB fp32). One chunk keeps the name.
 */
export function vocabParamShapes(c: DecoderConfig, chunk: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const chunks = vocabChunks(c.vocabSize, chunk);
  for (const [name, shape] of paramShapes(c)) {
    const axis = VOCAB_AXIS[name];
    if (axis === undefined || chunks.length === 1) out.set(name, shape);
    else chunks.forEach(([v0, v1], k) => out.set(chunkName(name, k), axis === 0 ? [v1 - v0, shape[1]] : [shape[0], v1 - v0]));
  }
  return out;
}

/** Rows [r0, r1) or columns [c0, c1) of a row-major matrix with `cols` columns. */
function vocabSlice<T extends WeightData>(data: T, cols: number, axis: 0 | 1, [v0, v1]: [number, number]): T {
  if (axis === 0) return data.subarray(v0 * cols, v1 * cols) as T;
  const rows = data.length / cols;
  const out = (data instanceof Uint16Array ? new Uint16Array(rows * (v1 - v0)) : new Float32Array(rows * (v1 - v0))) as T;
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + v0, r * cols + v1), r * (v1 - v0));
  return out;
}

/** Whole weights (paramShapes' names) in vocabParamShapes' layout for `chunk`; other entries as they are. */
export function splitVocabParams(c: DecoderConfig, weights: ModelWeights, chunk: number): ModelWeights {
  const out: ModelWeights = new Map(weights);
  const chunks = vocabChunks(c.vocabSize, chunk);
  if (chunks.length === 1) return out;
  for (const [name, axis] of Object.entries(VOCAB_AXIS)) {
    const data = weights.get(name);
    if (!data) continue;
    out.delete(name);
    const cols = axis === 0 ? c.hiddenSize : c.vocabSize;
    chunks.forEach((range, k) => out.set(chunkName(name, k), vocabSlice(data, cols, axis, range)));
  }
  return out;
}

/** The inverse of splitVocabParams: chunked weights `<name>.vocab<k>` joined into `<name>`. */
export function joinVocabParams(c: DecoderConfig, weights: ModelWeights): ModelWeights {
  const out: ModelWeights = new Map(weights);
  for (const [name, axis] of Object.entries(VOCAB_AXIS)) {
    const parts: WeightData[] = [];
    for (let k = 0; weights.has(chunkName(name, k)); k++) parts.push(weights.get(chunkName(name, k))!);
    if (!parts.length) continue;
    const whole =
      parts[0] instanceof Uint16Array ? new Uint16Array(c.vocabSize * c.hiddenSize) : new Float32Array(c.vocabSize * c.hiddenSize);
    let v0 = 0;
    for (const [k, part] of parts.entries()) {
      const n = part.length / c.hiddenSize;
      if (axis === 0) whole.set(part, v0 * c.hiddenSize);
      else for (let r = 0; r < c.hiddenSize; r++) whole.set(part.subarray(r * n, (r + 1) * n), r * c.vocabSize + v0);
      v0 += n;
      out.delete(chunkName(name, k));
    }
    if (v0 !== c.vocabSize) throw new Error(`${name}: vocabulary chunks cover ${v0} of ${c.vocabSize} entries`);
    out.set(name, whole);
  }
  return out;
}

export interface ParamOptions {
  /** Name prefix in the graph (e.g. "ref." for a frozen reference copy). */
  prefix?: string;
  trainable: boolean;
  /**
   * The dtype fp32 weights are stored in when they do not train (default float32). float16 halves
   * a frozen base on the device, with nothing lost where the decoder computes in fp16 anyway:
   * each use would round it to fp16 (and keep that copy for the backward pass). Weights that are
   * fp16 on the host (a 16-bit checkpoint) stay float16 when frozen, whatever this says: widening
   * them would double their bytes without adding a bit, and each use casts them to the compute dtype.
   */
  frozenDtype?: "float32" | "float16";
  /**
   * Whether the engine runs float16 (Engine.float16; default true). false: weights that are fp16 on
   * the host are widened to fp32 for the device, where they are frozen too.
   */
  float16?: boolean;
  lora?: LoraConfig;
  /** Initial LoRA A (by adapter name); random (PEFT's kaiming-uniform) when absent. */
  loraInit?: ModelWeights;
  seed?: number;
  /**
   * Trainable weights only: the embedding and an untied head as parameters of this many
   * vocabulary rows each (vocabParamShapes; default DEFAULT_VOCAB_CHUNK; 0: one tensor each).
   * The head's chunks (HeadOptions.vocabChunk) run within these parameters, none across two.
   */
  vocabChunk?: number;
}

/** The graph tensors of one copy of the network. */
export interface DecoderParams {
  config: DecoderConfig;
  get(name: string): Tensor;
  has(name: string): boolean;
  /** A weight with a vocabulary axis (embedding, lm_head) as its parameters, by vocabulary range. */
  vocab(name: string): VocabPart[];
  lora?: { config: LoraConfig; a: Map<string, Tensor>; b: Map<string, Tensor> };
}

/** Vocabulary entries [start, start + size) of a weight, held by one parameter `w` along the weight's vocabulary axis. */
export interface VocabPart {
  start: number;
  size: number;
  w: Tensor;
}

/** LoRA adapter parameter names (trainer layout: A [in, r], B [r, out]). */
export const loraNames = (layer: number, m: LinearModule) => ({
  a: `${modulePath(layer, m)}.lora_A.weight`,
  b: `${modulePath(layer, m)}.lora_B.weight`,
});

/** PEFT's default LoRA init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function initLoraA(inDim: number, rank: number, seed: number): Float32Array {
  const bound = 1 / Math.sqrt(inDim);
  const r = init.uniform(-bound, bound, seed);
  return r(inDim * rank) as Float32Array;
}

/** Declare one copy of the network's parameters in `g`. */
export function declareParams(g: Graph, c: DecoderConfig, weights: ModelWeights, opts: ParamOptions): DecoderParams {
  const prefix = opts.prefix ?? "";
  const map = new Map<string, Tensor>();
  const chunk = opts.trainable ? (opts.vocabChunk ?? DEFAULT_VOCAB_CHUNK) : 0;
  const held = splitVocabParams(c, weights, chunk);
  for (const [name, shape] of vocabParamShapes(c, chunk)) {
    const data = held.get(name);
    if (!data) throw new Error(`missing weight ${name}`);
    // trainable weights are fp32 masters, whatever the checkpoint stored
    const half = data instanceof Uint16Array && opts.float16 !== false;
    const dtype = opts.trainable ? "float32" : half ? "float16" : (opts.frozenDtype ?? "float32");
    map.set(name, g.param(prefix + name, shape, { init: dtype === "float32" ? asF32(data) : data, trainable: opts.trainable, dtype }));
  }
  let lora: DecoderParams["lora"];
  if (opts.lora) {
    const a = new Map<string, Tensor>();
    const b = new Map<string, Tensor>();
    let k = 0;
    for (let l = 0; l < c.numLayers; l++)
      for (const m of opts.lora.targets) {
        const [i, o] = linearShape(c, m);
        const n = loraNames(l, m);
        const r = opts.lora.rank;
        const aInit = opts.loraInit?.get(n.a) ?? initLoraA(i, r, (opts.seed ?? 0) * 7919 + 1 + k++);
        const bInit = opts.loraInit?.get(n.b) ?? new Float32Array(r * o);
        a.set(modulePath(l, m), g.param(prefix + n.a, [i, r], { init: aInit, trainable: true }));
        b.set(modulePath(l, m), g.param(prefix + n.b, [r, o], { init: bInit, trainable: true }));
      }
    lora = { config: opts.lora, a, b };
  }
  return {
    config: c,
    lora,
    has: (name) => map.has(name),
    get: (name) => {
      const t = map.get(name);
      if (!t) throw new Error(`no parameter ${name}${map.has(chunkName(name, 0)) ? " (held in vocabulary chunks: vocab())" : ""}`);
      return t;
    },
    vocab: (name) => {
      const whole = map.get(name);
      if (whole) return [{ start: 0, size: c.vocabSize, w: whole }];
      return vocabChunks(c.vocabSize, chunk).map(([v0, v1], k) => ({ start: v0, size: v1 - v0, w: map.get(chunkName(name, k))! }));
    },
  };
}

export interface DecoderInputs {
  /** Token ids [N, T] int32. */
  ids: Tensor;
  /** 1 for real tokens, 0 for padding, [N, T] float32. */
  keyMask: Tensor;
  /** Rotary tables broadcastable to [N, H, T, headDim]: [T, hd] or [N, 1, T, hd]. */
  cos: Tensor;
  sin: Tensor;
}

export interface ForwardOptions {
  /** Apply the LoRA adapters (false: the base network, i.e. LoRA's reference policy). */
  adapters?: boolean;
  /**
   * The decoder's compute dtype (default float32). float16: parameters stay fp32 (master
   * weights) and are cast at their use, so their gradients come back fp32; the logits are cast
   * to fp32 for the log-softmax.
   */
  dtype?: "float32" | "float16";
  /**
   * Recompute each layer's activations in the backward pass from the layer's input instead of
   * keeping them from the forward (activation checkpointing per layer): a step then holds the
   * layers' inputs and one layer's activations at a time, for one more forward pass of compute.
   */
  recompute?: boolean;
}

const MASK_NEG = 1e9;
/** fp16's masked score: exp underflows to 0 as with -1e9, which fp16 cannot hold (max 65504). */
const MASK_NEG_FP16 = 3e4;

/**
 * The additive attention bias [N, 1, T, T]: 0 where query i may attend key j (j <= i and j is a
 * real token), -1e9 elsewhere. Built once per forward and shared by every layer.
 */
export function attentionBias(keyMask: Tensor, neg = MASK_NEG): Tensor {
  const g = keyMask.graph;
  const rows = g.unsqueeze(keyMask, 2); // [N, T, 1]
  const cols = g.unsqueeze(keyMask, 1); // [N, 1, T]
  const square = g.expandLike(g.scalar(1), g.mul(rows, cols)); // ones [N, T, T]
  const allowed = g.mul(g.trilu(square, false, 0), cols);
  return g.unsqueeze(g.mul(g.sub(allowed, 1), neg), 1);
}

/**
 * RoPE as x·cos + swap(x)·sin' with swap(x) = cat(x[..., hd/2:], x[..., :hd/2]) and sin' = sin with
 * its first half negated, which is HF's x·cos + rotate_half(x)·sin exactly (a negation is exact):
 * one Split and one Concat per application and per gradient, where rotate_half costs two Slices,
 * a Neg and a Concat forward and two Pads, an Add and a Neg backward.
 */
function applyRope(x: Tensor, cos: Tensor, sinSigned: Tensor, hd: number): Tensor {
  const g = x.graph;
  const [x1, x2] = g.split(x, [hd / 2, hd / 2], -1);
  return g.add(g.mul(x, cos), g.mul(g.concat([x2, x1], x.rank - 1), sinSigned));
}

/** sin with its first half negated (see applyRope): one Mul per forward, shared by every layer. */
function signedSin(sin: Tensor, hd: number): Tensor {
  const sign = Array.from({ length: hd }, (_, i) => (i < hd / 2 ? -1 : 1));
  return sin.graph.mul(sin, sin.graph.constant(sign, [hd], sin.dtype));
}

/**
 * x @ W for a frozen fp16 W under fp32 compute (a 16-bit base): the backward casts W again once
 * the gradient exists (as recomputedLayer does with its input), where the derived one would keep
 * the forward's fp32 cast of every layer's W for dX = dY·Wᵀ, 4 bytes a weight beside the 2 stored.
 */
function matmulFrozenHalf(x: Tensor, w: Tensor): Tensor {
  const g = x.graph;
  return g.customGradient(g.matmul(x, g.cast(w, x.dtype)), [x], (gy) => {
    const first = g.slice(g.reshape(gy, [-1]), [0], [1]);
    const wAgain = g.cast(g.where(g.equal(first, first), w, w), x.dtype);
    const rows = g.reshape(gy, [-1, gy.shape[gy.rank - 1]]);
    return [g.reshapeLike(g.gemm(rows, wAgain, { transB: true }), x)];
  });
}

/** x @ W (+ b) (+ scale * (x @ A) @ B with LoRA), in x's dtype. */
function linearModule(p: DecoderParams, path: string, x: Tensor, adapters: boolean): Tensor {
  const g = x.graph;
  const param = (name: string) => g.cast(p.get(name), x.dtype);
  const w = p.get(`${path}.weight`);
  let y = !w.trainable && w.dtype === "float16" && x.dtype === "float32" ? matmulFrozenHalf(x, w) : g.matmul(x, param(`${path}.weight`));
  if (p.has(`${path}.bias`)) y = g.add(y, param(`${path}.bias`));
  const a = adapters ? p.lora?.a.get(path) : undefined;
  if (a) {
    // scale the rank-r activations, not the [.., out] product: one full-size Mul fewer forward
    // and backward per adapter (exact for a power-of-two alpha/rank, as the default 16/8)
    const l = p.lora!;
    const xa = g.mul(g.matmul(x, g.cast(a, x.dtype)), l.config.alpha / l.config.rank);
    y = g.add(y, g.matmul(xa, g.cast(l.b.get(path)!, x.dtype)));
  }
  return y;
}

/**
 * Decoding with a KV cache: the new tokens' keys and values are written into fixed-length caches
 * (slots `writeIdx` along the time axis) and the queries attend over every cache slot.
 */
export interface KvCacheInputs {
  /** The cache slot of each new token, [1, 1, S, 1] int32. */
  writeIdx: Tensor;
  /** Per layer, the keys and values of the earlier tokens, [N, KV, L, hd] each. */
  past: LayerKv[];
  /**
   * The additive bias over the slots, broadcastable to [N, KV, rep, S, L]: 0 where a query may
   * attend a slot, -1e9 elsewhere (future slots, padding, unwritten slots).
   */
  bias: Tensor;
}

export interface LayerKv {
  key: Tensor;
  value: Tensor;
}

/** What every layer of one forward shares. */
interface LayerShared {
  p: DecoderParams;
  adapters: boolean;
  /** q's rotary tables carry the attention scale (head layout); k's are in token layout [.., T, 1, hd]. */
  cosQ: Tensor;
  sinQ: Tensor;
  cosK: Tensor;
  sinK: Tensor;
  /** The additive attention bias (full sequence: [N, 1, T, T]; with a cache: KvCacheInputs.bias). */
  bias: Tensor;
}

/**
 * Decoder layer l on its input x [N, T, D]: pre-RMSNorm rotary grouped-query attention and a
 * SwiGLU MLP, each added to the residual stream. Without a cache it attends over its own T
 * tokens; with one it writes its keys and values into the cache first and attends over the cache,
 * returning the cache's new contents.
 */
function decoderLayer(x: Tensor, l: number, s: LayerShared, cache?: { past: LayerKv; writeIdx: Tensor }): { y: Tensor; present?: LayerKv } {
  const { p, adapters } = s;
  const c = p.config;
  const g = x.graph;
  const H = c.numHeads;
  const KV = c.numKvHeads;
  const hd = c.headDim;
  const rep = H / KV;
  const pre = `model.layers.${l}`;
  const linear = (m: LinearModule, t: Tensor) => linearModule(p, modulePath(l, m), t, adapters);
  const norm = (t: Tensor, name: string) => rmsNorm(t, g.cast(p.get(name), t.dtype), c.rmsNormEps);
  const heads = (t: Tensor, n: number) => g.transpose(g.reshape(t, [0, 0, n, hd]), [0, 2, 1, 3]); // [N, n, T, hd]

  const h = norm(x, `${pre}.input_layernorm.weight`);
  const q = applyRope(heads(linear("q_proj", h), H), s.cosQ, s.sinQ, hd); // carries the 1/sqrt(hd)
  // k is rotated in token layout [N, T, KV, hd], then transposed once: to kᵀ [N, KV, hd, T] for
  // the full sequence, to [N, KV, T, hd] (the cache's layout) with a cache
  const kRot = applyRope(g.reshape(linear("k_proj", h), [0, 0, KV, hd]), s.cosK, s.sinK, hd);
  const k = g.transpose(kRot, cache ? [0, 2, 1, 3] : [0, 2, 3, 1]);
  const v = heads(linear("v_proj", h), KV);
  let attended: Tensor; // [N, H, T, hd]
  let present: LayerKv | undefined;
  if (!cache) {
    // repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1 (axis 1 of [N, KV, a, b])
    const repeat = (t: Tensor) => {
      if (rep === 1) return t;
      const u = g.unsqueeze(t, 2); // [N, KV, 1, a, b]
      const e = g.expand(u, [u.shape[0], KV, rep, u.shape[3], u.shape[4]]);
      return g.reshape(e, [0, H, t.shape[2], -1]);
    };
    const kT = repeat(k);
    const vr = repeat(v);
    const probs = g.softmax(g.add(g.matmul(q, kT), s.bias), -1);
    attended = g.matmul(probs, vr);
  } else {
    const idx = g.expandLike(cache.writeIdx, k);
    present = { key: g.scatterElements(cache.past.key, idx, k, 2), value: g.scatterElements(cache.past.value, idx, v, 2) };
    // query heads j*rep .. j*rep+rep-1 share KV head j: [N, KV, rep, S, hd] against [N, KV, 1, L, hd]
    // (MatMul broadcasts the group axis, so the cache is read once per KV head, never repeated)
    const qg = g.reshape(q, [0, KV, rep, -1, hd]);
    const kTg = g.transpose(g.unsqueeze(present.key, 2), [0, 1, 2, 4, 3]);
    const probs = g.softmax(g.add(g.matmul(qg, kTg), s.bias), -1); // [N, KV, rep, S, L]
    attended = g.reshape(g.matmul(probs, g.unsqueeze(present.value, 2)), [0, H, -1, hd]);
  }
  const o = g.reshape(g.transpose(attended, [0, 2, 1, 3]), [0, 0, H * hd]);
  const mid = g.add(x, linear("o_proj", o));
  const h2 = norm(mid, `${pre}.post_attention_layernorm.weight`);
  const gate = silu(linear("gate_proj", h2));
  const up = linear("up_proj", h2);
  return { y: g.add(mid, linear("down_proj", g.mul(gate, up))), present };
}

/**
 * Gather(weight, ids, axis) from a weight held in vocabulary parts: each part gathers the ids it
 * holds (the others read its first entry and are zeroed) and the parts' gathers add up, so each
 * part's gradient is a scatter into its own rows, never into a whole [V, D].
 */
function gatherVocab(parts: VocabPart[], ids: Tensor, axis: 0 | 1): Tensor {
  const g = ids.graph;
  if (parts.length === 1) return g.gather(parts[0].w, ids, axis);
  const terms = parts.map((part) => {
    const { index, held } = vocabIndex(part, ids);
    const rows = g.gather(part.w, index, axis);
    return g.where(axis === 0 ? g.unsqueeze(held, ids.rank) : held, rows, 0);
  });
  return terms.reduce((a, b) => g.add(a, b));
}

/** ids as indices into one vocabulary part: `held` where the part holds the id, index 0 elsewhere. */
function vocabIndex(part: VocabPart, ids: Tensor): { index: Tensor; held: Tensor } {
  const g = ids.graph;
  const local = g.sub(ids, part.start);
  const held = g.and(g.not(g.less(local, 0)), g.less(local, part.size));
  return { index: g.where(held, local, 0), held };
}

/**
 * The embedding, every layer and the final RMSNorm: hidden states [N, T, D] in the compute dtype,
 * and with a cache each layer's new cache contents. `bias` builds the attention bias in the
 * compute dtype (once per forward, shared by every layer).
 */
function decoderStack(
  p: DecoderParams,
  inp: { ids: Tensor; cos: Tensor; sin: Tensor },
  bias: (dt: "float32" | "float16") => Tensor,
  opts: ForwardOptions,
  cache?: Omit<KvCacheInputs, "bias">,
): { hidden: Tensor; present: LayerKv[] } {
  const c = p.config;
  const g = inp.ids.graph;
  const adapters = opts.adapters ?? true;
  const dt = opts.dtype ?? "float32";
  const hd = c.headDim;
  const attnBias = bias(dt);
  const scale = 1 / Math.sqrt(hd);
  const cos = g.cast(inp.cos, dt);
  const sin = signedSin(g.cast(inp.sin, dt), hd);
  // the attention scale rides on q's rotary tables (RoPE is linear in q): no [N, H, T, T] Mul
  // forward or backward in any layer, two [T, hd] ones per forward
  const cosQ = g.mul(cos, scale);
  const sinQ = g.mul(sin, scale);
  // k's rotary tables in token layout [.., T, 1, hd]: k is rotated before its one transpose
  const tokenLayout = (t: Tensor) => (t.rank === 2 ? g.unsqueeze(t, 1) : g.transpose(t, [0, 2, 1, 3]));
  const shared: LayerShared = { p, adapters, cosQ, sinQ, cosK: tokenLayout(cos), sinK: tokenLayout(sin), bias: attnBias };
  const layer = (x: Tensor, l: number) => decoderLayer(x, l, shared).y;
  /** Layer l's parameters (base weights, norms, biases, and its adapters when they apply). */
  const layerParams = (l: number): Tensor[] => {
    const own = [...paramShapes(c).keys()].filter((n) => n.startsWith(`model.layers.${l}.`)).map((n) => p.get(n));
    const paths = adapters && p.lora ? LINEAR_MODULES.map((m) => modulePath(l, m)) : [];
    const lora = paths.flatMap((path) => (p.lora!.a.has(path) ? [p.lora!.a.get(path)!, p.lora!.b.get(path)!] : []));
    return [...own, ...lora];
  };
  /**
   * Layer l with its activations recomputed in the backward pass (ForwardOptions.recompute): the
   * backward rebuilds the layer from a copy of its input that waits for the layer's incoming
   * gradient, so onnxruntime can neither run the recomputation early (every layer's activations
   * alive again) nor merge it with the forward (common-subexpression elimination).
   */
  const recomputedLayer = (x: Tensor, l: number): Tensor => {
    const params = layerParams(l);
    return g.customGradient(layer(x, l), [x, ...params], (gy, needs) => {
      const first = g.slice(g.reshape(gy, [-1]), [0], [1]);
      const xAgain = g.where(g.equal(first, first), x, x); // x, once gy exists
      const wanted = params.filter((_, i) => needs[i + 1]);
      const [dx, ...dParams] = grad(layer(xAgain, l), [xAgain, ...wanted], { seed: gy });
      let k = 0;
      return [needs[0] ? dx : undefined, ...params.map((_, i) => (needs[i + 1] ? dParams[k++] : undefined))];
    });
  };
  // gather from the fp32 table, then cast: the embedding gradient accumulates in fp32
  let x = g.cast(gatherVocab(p.vocab("model.embed_tokens.weight"), inp.ids, 0), dt); // [N, T, D]
  const present: LayerKv[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    if (cache) {
      const r = decoderLayer(x, l, shared, { past: cache.past[l], writeIdx: cache.writeIdx });
      x = r.y;
      present.push(r.present!);
    } else x = opts.recompute ? recomputedLayer(x, l) : layer(x, l);
  }
  return { hidden: rmsNorm(x, g.cast(p.get("model.norm.weight"), dt), c.rmsNormEps), present };
}

/** Final hidden states [N, T, D] (after the last RMSNorm). */
export function decoderHidden(p: DecoderParams, inp: DecoderInputs, opts: ForwardOptions = {}): Tensor {
  const g = inp.ids.graph;
  const bias = (dt: "float32" | "float16") => g.cast(attentionBias(inp.keyMask, dt === "float16" ? MASK_NEG_FP16 : MASK_NEG), dt);
  return decoderStack(p, inp, bias, opts).hidden;
}

/**
 * The decoder on S new tokens with a KV cache (generation): final hidden states [N, S, D] and
 * each layer's cache after writing the new tokens' keys and values. Rotary tables [N, 1, S, hd]
 * (each row's positions); fp32.
 */
export function decoderHiddenCached(
  p: DecoderParams,
  inp: { ids: Tensor; cos: Tensor; sin: Tensor },
  cache: KvCacheInputs,
  opts: Pick<ForwardOptions, "adapters"> = {},
): { hidden: Tensor; present: LayerKv[] } {
  return decoderStack(p, inp, () => cache.bias, opts, cache);
}

/** The output projection's weight: the tied embedding [V, D] (rows) or `lm_head.weight` [D, V] (columns). */
function headWeight(p: DecoderParams): { name: string; layout: "rows" | "columns" } {
  return p.config.tieWordEmbeddings ? { name: "model.embed_tokens.weight", layout: "rows" } : { name: "lm_head.weight", layout: "columns" };
}

/** Logits [N, T, V] in fp32 (computed in the compute dtype). */
export function decoderLogits(p: DecoderParams, inp: DecoderInputs, opts: ForwardOptions = {}): Tensor {
  const g = inp.ids.graph;
  const h = decoderHidden(p, inp, opts);
  const { name, layout } = headWeight(p);
  const w = p.get(name);
  const head = layout === "rows" ? g.transpose(w, [1, 0]) : w;
  return g.cast(g.matmul(h, g.cast(head, h.dtype)), "float32");
}

export interface HeadOptions extends ForwardOptions {
  /**
   * Vocabulary columns per head chunk (default DEFAULT_VOCAB_CHUNK); 0: the whole logits
   * [N, T, V] and their log-softmax, as one tensor each (the reference the chunks are tested against).
   */
  vocabChunk?: number;
}

/**
 * log p(label) at every position, [N, T] fp32: `labels[n, t]` is the token at t+1 (int32). The
 * head runs in vocabulary chunks (chunkedLabelLogProbs) unless `vocabChunk` is 0.
 */
export function decoderLabelLogProbs(p: DecoderParams, inp: DecoderInputs, labels: Tensor, opts: HeadOptions = {}): Tensor {
  const chunk = opts.vocabChunk ?? DEFAULT_VOCAB_CHUNK;
  if (chunk === 0) return nn.labelLogProbs(decoderLogits(p, inp, opts), labels);
  const { name, layout } = headWeight(p);
  return chunkedLabelLogProbs(decoderHidden(p, inp, opts), p.vocab(name), layout, labels, chunk);
}

/**
 * log softmax(h · W)[label] per position without the [N·T, V] logits: the idea of Liger's fused
 * linear cross-entropy, chunked over the vocabulary (static, where rows and T are symbolic).
 *
 * Forward, per chunk of at most `chunk` columns W_c: z = h·W_c minus the running max, the max's
 * rise d = relu(rowmax z), e = exp(z - d); the running sum s and the softmax-weighted head rows
 * acc = Σ e·W_cᵀ are rescaled by exp(-d) and accumulate (an online log-sum-exp, as flash
 * attention's). Each chunk's product is shifted by the previous chunk's max, so chunks run in
 * order and one chunk's [N·T, chunk] tensors are dead before the next one's exist. The label's
 * logit is h · W[label] (a gathered row, not a column of the logits); log p = that - (max + log s).
 *
 * Backward (hand-written, Graph.customGradient): d/dh = gy (W[label] - acc/s), already computed,
 * so a frozen head (LoRA) keeps nothing of the vocabulary for the backward pass; a trained head's
 * gradient gy·h (onehot - softmax) recomputes each chunk's softmax from h and the log-sum-exp,
 * exp(h·W_c - lse), one chunk at a time, and scatters the label rows' +gy·h.
 *
 * h [N, T, D] in the compute dtype; the head fp32, [V, D] (rows: the tied embedding) or [D, V]
 * (columns: lm_head), as vocabulary parts (one whole weight, or a trained one's chunk parameters,
 * whose gradients are then each a chunk's); products run in h's dtype, the softmax statistics in fp32.
 */
export function chunkedLabelLogProbs(h: Tensor, parts: VocabPart[], layout: "rows" | "columns", labels: Tensor, chunk: number): Tensor {
  const g = h.graph;
  const dt = h.dtype;
  const D = h.shape[h.rank - 1] as number;
  const f32 = (t: Tensor) => g.cast(t, "float32");
  const h2 = g.reshape(h, [-1, D]); // [NT, D]
  const lab = g.reshape(labels, [-1]); // [NT]
  const vocabAxis = layout === "rows" ? 0 : 1;
  // each part in chunks of at most `chunk` entries (a part as large or smaller: itself)
  const chunksOf = (part: VocabPart) => vocabChunks(part.size, chunk).map(([v0, v1]) => ({ part, v0, v1 }));
  const chunks = parts.flatMap(chunksOf);
  const slice = ({ part, v0, v1 }: (typeof chunks)[number]) =>
    g.cast(v0 === 0 && v1 === part.size ? part.w : g.slice(part.w, [v0], [v1], [vocabAxis]), dt);
  /** h · W_c, fp32 [NT, Vc]. */
  const logits = (wc: Tensor) => f32(g.gemm(h2, wc, { transB: layout === "rows" }));
  /** Σ_v p_v W_c[v] for p [NT, Vc]: fp32 [NT, D]. */
  const mix = (p: Tensor, wc: Tensor) => f32(g.gemm(g.cast(p, dt), wc, { transB: layout === "columns" }));

  let negMax: Tensor | undefined; // minus the running max, [NT, 1]
  let sum: Tensor | undefined; // Σ exp(logit - max), [NT, 1]
  let acc: Tensor | undefined; // Σ exp(logit - max) W[v], [NT, D]
  for (const c of chunks) {
    const wc = slice(c);
    if (!negMax || !sum || !acc) {
      const z = logits(wc);
      const m = g.reduceMax(z, -1, true);
      const e = g.exp(g.sub(z, m));
      [negMax, sum, acc] = [g.neg(m), g.reduceSum(e, -1, true), mix(e, wc)];
      continue;
    }
    const z = g.add(logits(wc), negMax); // fp32: the Add folds into the Gemm's C
    const rise = g.relu(g.reduceMax(z, -1, true));
    const e = g.exp(g.sub(z, rise));
    const rescale = g.exp(g.neg(rise));
    sum = g.add(g.mul(sum, rescale), g.reduceSum(e, -1, true));
    acc = g.add(g.mul(acc, rescale), mix(e, wc));
    negMax = g.sub(negMax, rise);
  }
  const lse = g.sub(g.log(sum!), negMax!); // [NT, 1]
  const gathered = gatherVocab(parts, lab, vocabAxis);
  const labelRows = f32(layout === "rows" ? gathered : g.transpose(gathered, [1, 0])); // [NT, D]
  const lp = g.sub(g.reduceSum(g.mul(f32(h2), labelRows), -1, true), lse); // [NT, 1]

  const expected = g.div(acc!, sum!); // E_softmax[W[v]], [NT, D]
  const weights = parts.map((part) => part.w);
  const lpWithGrad = g.customGradient(lp, [h2, ...weights], (gy, needs) => {
    const dh = needs[0] ? g.cast(g.mul(gy, g.sub(labelRows, expected)), dt) : undefined;
    if (!needs.slice(1).some(Boolean)) return [dh, ...weights.map(() => undefined)];
    const gh = g.mul(gy, f32(h2)); // [NT, D]
    const ghDt = g.cast(gh, dt);
    const negLse = g.reshape(g.neg(lse), [1, -1]); // [1, NT]
    // -Σ_t gy_t h_t softmax_t per chunk, the softmax recomputed transposed, [Vc, NT]: the product
    // taken the other way round is not the forward's, which CSE would otherwise keep alive till here
    const dense = (c: (typeof chunks)[number]) => {
      const wc = slice(c);
      const pT = g.cast(g.exp(g.add(f32(g.gemm(wc, h2, { transA: layout === "columns", transB: true })), negLse)), dt);
      return f32(layout === "rows" ? g.gemm(pT, ghDt, { alpha: -1 }) : g.gemm(ghDt, pT, { transA: true, transB: true, alpha: -1 }));
    };
    // + gy_t h_t on each label's row (column) of the part that holds it: the gathered rows' gradient
    const ghT = layout === "rows" ? gh : g.transpose(gh, [1, 0]); // [NT, D] or [D, NT]
    const partGrad = (part: VocabPart, i: number) => {
      if (!needs[i + 1]) return undefined;
      const own = chunksOf(part).map(dense);
      const d = own.length === 1 ? own[0] : g.concat(own, vocabAxis);
      const { index, held } = parts.length === 1 ? { index: lab, held: undefined } : vocabIndex(part, lab);
      const updates = held ? g.where(layout === "rows" ? g.unsqueeze(held, 1) : held, ghT, 0) : ghT;
      return g.scatterElements(d, g.expandLike(g.unsqueeze(index, 1 - vocabAxis), ghT), updates, vocabAxis, "add");
    };
    return [dh, ...parts.map(partGrad)];
  });
  return g.reshapeLike(lpWithGrad, labels);
}

/**
 * Summed log-probabilities of the labels over the masked positions, one per row: [N], from the
 * per-position log-probs [N, T] (decoderLabelLogProbs); `lossMask[n, t]` is 1 where that label is a
 * response token (prompt and padding are 0).
 */
export function sequenceLogProbs(tokenLogProbs: Tensor, lossMask: Tensor): Tensor {
  const g = tokenLogProbs.graph;
  return g.reduceSum(g.mul(tokenLogProbs, lossMask), -1);
}
