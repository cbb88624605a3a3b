/**
 * Decoder configuration for the Llama/Qwen2 family, read from a Hugging Face `config.json`.
 *
 * Only what the graph builder implements is accepted: an option that would change the network in
 * a way we do not model (sliding-window attention, a rope scaling type we do not know, another
 * activation) is a clear error instead of a silently different model.
 */

export type Architecture = "llama" | "qwen2" | "mistral";

export interface RopeScaling {
  type: "default" | "linear" | "llama3";
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface DecoderConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on q_proj, k_proj and v_proj (Qwen2; Llama's `attention_bias` also adds o_proj's). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama with attention_bias). */
  oBias: boolean;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  /** The config.json this came from (written back on export, with our fields updated). */
  raw: Record<string, unknown>;
}

export class UnsupportedModelError extends Error {
  override name = "UnsupportedModelError";
}

const ARCHS: Record<string, Architecture> = {
  LlamaForCausalLM: "llama",
  Qwen2ForCausalLM: "qwen2",
  MistralForCausalLM: "mistral",
};
const MODEL_TYPES: Record<string, Architecture> = { llama: "llama", qwen2: "qwen2", mistral: "mistral" };

const num = (raw: Record<string, unknown>, key: string, fallback?: number): number => {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new UnsupportedModelError(`config.json: missing "${key}"`);
  }
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new UnsupportedModelError(`config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
};

/** Parse a Hugging Face config.json object; throws UnsupportedModelError with the reason. */
export function parseHfConfig(raw: Record<string, unknown>): DecoderConfig {
  const archName = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : undefined;
  const modelType = typeof raw.model_type === "string" ? raw.model_type : undefined;
  const architecture = (archName && ARCHS[archName]) || (modelType && MODEL_TYPES[modelType]);
  if (!architecture)
    throw new UnsupportedModelError(
      `unsupported architecture ${archName ?? modelType ?? "(none given)"}: supported are ${Object.keys(ARCHS).join(", ")} (model_type ${Object.keys(MODEL_TYPES).join(", ")})`,
    );
  const act = raw.hidden_act ?? "silu";
  if (act !== "silu") throw new UnsupportedModelError(`unsupported hidden_act "${String(act)}" (only silu, i.e. SwiGLU)`);
  if (raw.mlp_bias === true) throw new UnsupportedModelError("unsupported mlp_bias: true");
  if (architecture !== "llama" && raw.use_sliding_window === true)
    throw new UnsupportedModelError("unsupported use_sliding_window: true (sliding-window attention is not implemented)");
  if (architecture === "mistral" && typeof raw.sliding_window === "number" && raw.sliding_window < num(raw, "max_position_embeddings", 0))
    throw new UnsupportedModelError(`unsupported sliding_window ${raw.sliding_window} (sliding-window attention is not implemented)`);
  if (raw.pretraining_tp !== undefined && raw.pretraining_tp !== 1)
    throw new UnsupportedModelError(`unsupported pretraining_tp ${String(raw.pretraining_tp)}`);

  const hiddenSize = num(raw, "hidden_size");
  const numHeads = num(raw, "num_attention_heads");
  const numKvHeads = num(raw, "num_key_value_heads", numHeads);
  const headDim = num(raw, "head_dim", hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2) throw new UnsupportedModelError(`head_dim ${headDim} must be an even integer`);
  if (numHeads % numKvHeads)
    throw new UnsupportedModelError(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);

  const attentionBias = raw.attention_bias === true;
  return {
    architecture,
    vocabSize: num(raw, "vocab_size"),
    hiddenSize,
    intermediateSize: num(raw, "intermediate_size"),
    numLayers: num(raw, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(raw, "rms_norm_eps", 1e-6),
    ropeTheta: num(raw, "rope_theta", 10000),
    ropeScaling: parseRopeScaling(raw.rope_scaling),
    maxPositionEmbeddings: num(raw, "max_position_embeddings", 4096),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    qkvBias: architecture === "qwen2" || attentionBias,
    oBias: architecture !== "qwen2" && attentionBias,
    bosTokenId: typeof raw.bos_token_id === "number" ? raw.bos_token_id : undefined,
    eosTokenId:
      typeof raw.eos_token_id === "number" || Array.isArray(raw.eos_token_id) ? (raw.eos_token_id as number | number[]) : undefined,
    padTokenId: typeof raw.pad_token_id === "number" ? raw.pad_token_id : undefined,
    raw,
  };
}

function parseRopeScaling(v: unknown): RopeScaling {
  if (v === undefined || v === null) return { type: "default" };
  if (typeof v !== "object") throw new UnsupportedModelError(`rope_scaling must be an object, got ${JSON.stringify(v)}`);
  const r = v as Record<string, unknown>;
  const type = String(r.rope_type ?? r.type ?? "default");
  if (type === "default") return { type: "default" };
  if (type === "linear") return { type: "linear", factor: num(r, "factor") };
  if (type === "llama3")
    return {
      type: "llama3",
      factor: num(r, "factor"),
      lowFreqFactor: num(r, "low_freq_factor"),
      highFreqFactor: num(r, "high_freq_factor"),
      originalMaxPositionEmbeddings: num(r, "original_max_position_embeddings"),
    };
  throw new UnsupportedModelError(`unsupported rope_scaling type "${type}" (supported: default, linear, llama3)`);
}

/** The config.json for a DecoderConfig (HF field names), starting from its raw source. */
export function toHfConfig(c: DecoderConfig): Record<string, unknown> {
  const arch = { llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", mistral: "MistralForCausalLM" }[c.architecture];
  const out: Record<string, unknown> = {
    ...c.raw,
    architectures: [arch],
    model_type: c.architecture,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: "silu",
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: "float32",
  };
  if (c.architecture === "llama") out.attention_bias = c.qkvBias;
  if (c.ropeScaling.type !== "default") {
    const s = c.ropeScaling;
    out.rope_scaling =
      s.type === "linear"
        ? { rope_type: "linear", factor: s.factor }
        : {
            rope_type: "llama3",
            factor: s.factor,
            low_freq_factor: s.lowFreqFactor,
            high_freq_factor: s.highFreqFactor,
            original_max_position_embeddings: s.originalMaxPositionEmbeddings,
          };
  } else delete out.rope_scaling;
  if (c.bosTokenId !== undefined) out.bos_token_id = c.bosTokenId;
  if (c.eosTokenId !== undefined) out.eos_token_id = c.eosTokenId;
  if (c.padTokenId !== undefined) out.pad_token_id = c.padTokenId;
  return out;
}

/**
 * Rotary inverse frequencies (HF `_compute_default_rope_parameters` and the llama3 / linear
 * variants), in float64.
 */
export function ropeInvFreq(c: DecoderConfig): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / c.ropeTheta ** ((2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (s.type === "linear") for (let i = 0; i < half; i++) inv[i] /= s.factor!;
  if (s.type === "llama3") {
    const lowWavelen = s.originalMaxPositionEmbeddings! / s.lowFreqFactor!;
    const highWavelen = s.originalMaxPositionEmbeddings! / s.highFreqFactor!;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] /= s.factor!;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings! / wavelen - s.lowFreqFactor!) / (s.highFreqFactor! - s.lowFreqFactor!);
        inv[i] = (1 - smooth) * (inv[i] / s.factor!) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/**
 * cos and sin tables [T, headDim] for positions 0..T-1, HF layout (the half-dim frequencies
 * repeated twice, as `rotate_half` expects). Computed in float64 and rounded once to fp32, as HF
 * computes them in fp32 from fp32 products (differences are at the fp32 rounding level).
 */
export function ropeTables(c: DecoderConfig, T: number): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(c);
  const hd = c.headDim;
  const half = hd / 2;
  const cos = new Float32Array(T * hd);
  const sin = new Float32Array(T * hd);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * Math.fround(inv[i]));
      const cv = Math.cos(a);
      const sv = Math.sin(a);
      cos[t * hd + i] = cos[t * hd + i + half] = cv;
      sin[t * hd + i] = sin[t * hd + i + half] = sv;
    }
  return { cos, sin };
}

/** Parameter count of the base network. */
export function countParams(c: DecoderConfig): number {
  const D = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const attn = D * q + 2 * D * kv + q * D + (c.qkvBias ? q + 2 * kv : 0) + (c.oBias ? D : 0);
  const mlp = 3 * D * c.intermediateSize;
  const layer = attn + mlp + 2 * D;
  return c.vocabSize * D * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + D;
}
