/**
 * Device memory of a training run, by part, from the model's config.json and the run's options
 * alone (`iopo-train estimate`): what the step's graph holds, counted the way the graph is built
 * (decoder.ts, graphs.ts, the Trainer's sessions), so a run can be sized before any weight is read.
 */
import type { DecoderConfig } from "../model/config.ts";
import { DEFAULT_VOCAB_CHUNK, linearShape, paramShapes } from "../model/decoder.ts";
import { BLOCKS } from "./losses.ts";
import type { ResolvedOptions } from "./options.ts";

/** The options that change the memory of a step. */
export type EstimateOptions = Pick<
  ResolvedOptions,
  "method" | "lora" | "ref" | "batchSize" | "gradAccum" | "maxLength" | "precision" | "recompute"
> & { vocabChunk?: number };

export interface MemoryEstimate {
  /** Bytes by part. */
  parts: {
    /**
     * Weights that do not train (LoRA's base, or full fine-tuning's reference copy on the fly):
     * fp16 from a 16-bit checkpoint (config.json's torch_dtype) or under --precision fp16.
     */
    frozenWeights: number;
    /**
     * fp32 master weights that train (LoRA adapters, or every weight), twice: the optimizer step
     * writes the new weights beside the old ones.
     */
    trainable: number;
    /** One gradient per trainable weight, and its accumulator with --grad-accum > 1. */
    gradients: number;
    /** AdamW's two moments, twice (the step's new moments beside the old ones). */
    moments: number;
    /** What the backward pass keeps from the forward, plus the largest working set around it. */
    activations: number;
    /** One vocabulary chunk of the head's logits and their exponentials (fp32). */
    logitsChunk: number;
  };
  totalBytes: number;
}

const FP32 = 4;

/** Elements of the LoRA adapters on every layer. */
function loraParams(c: DecoderConfig, lora: NonNullable<EstimateOptions["lora"]>): number {
  let n = 0;
  for (const m of lora.targets) {
    const [i, o] = linearShape(c, m);
    n += lora.rank * (i + o);
  }
  return n * c.numLayers;
}

/**
 * Elements one decoder layer's backward pass reads from its forward, per token (the softmax's
 * [H, T, T] apart): the layer's input and both normed inputs, q, k and v as attended (k and v
 * repeated to H heads), the attention output, the residual midpoint, and the MLP's five
 * [I]-wide tensors (gate, its sigmoid and SiLU, up, their product).
 */
function savedPerToken(c: DecoderConfig): number {
  const q = c.numHeads * c.headDim;
  return 4 * c.hiddenSize + 4 * q + 5 * c.intermediateSize;
}

/** config.json says the weights are stored in 16 bits (transformers' `torch_dtype`, `dtype` since 4.56). */
function isHalfCheckpoint(c: DecoderConfig): boolean {
  const d = c.raw.torch_dtype ?? c.raw.dtype;
  return d === "float16" || d === "bfloat16";
}

export function estimateMemory(c: DecoderConfig, o: EstimateOptions): MemoryEstimate {
  const params = [...paramShapes(c).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const trainableElems = o.lora ? loraParams(c, o.lora) : params;
  const frozenElems = o.lora ? params : o.ref === "on-the-fly" && o.method !== "sft" ? params : 0;
  const act = o.precision === "fp16" ? 2 : FP32;
  const rows = BLOCKS[o.method].length * o.batchSize;
  const T = o.maxLength;
  const tokens = rows * T;
  const H = c.numHeads;
  const perLayer = tokens * savedPerToken(c) + rows * H * T * T; // elements, the softmax included
  const kept = o.recompute
    ? c.numLayers * tokens * c.hiddenSize + perLayer // every layer's input, one layer rebuilt at a time
    : c.numLayers * perLayer;
  // the backward's working set at its largest: the softmax's gradient beside the softmax, and
  // two [T, I] gradients in the MLP
  const working = 2 * rows * H * T * T + 2 * tokens * c.intermediateSize;
  // fp16 full fine-tuning: each fp32 master weight is cast at its use, and the cast is kept for
  // dX = dY·Wᵀ (the embedding and head are read in fp32 or by chunk)
  const castWeights = o.precision === "fp16" && !o.lora ? params - c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) : 0;
  const vocabChunk = o.vocabChunk ?? DEFAULT_VOCAB_CHUNK;
  // chunked: a chunk's logits and exponentials; whole (0): the logits, their log-softmax and its
  // gradient kept for the backward pass, and the exponentials
  const logitTensors = vocabChunk ? 2 * Math.min(c.vocabSize, vocabChunk) : 4 * c.vocabSize;
  const parts = {
    // a 16-bit checkpoint's frozen weights stay fp16 (decoder.ts's declareParams; under fp32
    // compute its linear weights are cast again in the backward pass, not kept cast), and under
    // --precision fp16 a fp32 checkpoint's are stored fp16 (frozenDtype)
    frozenWeights: frozenElems * (o.precision === "fp16" || isHalfCheckpoint(c) ? 2 : FP32),
    trainable: 2 * trainableElems * FP32,
    gradients: trainableElems * FP32 * (o.gradAccum > 1 ? 2 : 1),
    moments: 2 * 2 * trainableElems * FP32,
    // + the head's fp32 [tokens, D] rows: softmax-weighted, label and expected rows, dh
    activations: (kept + working + castWeights) * act + 4 * tokens * c.hiddenSize * FP32,
    logitsChunk: tokens * logitTensors * FP32,
  };
  return { parts, totalBytes: Object.values(parts).reduce((a, b) => a + b, 0) };
}

/** Memory of named cards (nvidia-smi's total, MiB): `--card`. */
export const CARDS: Record<string, number> = {
  h200: 143771,
  h100: 81559,
  "a100-80": 81920,
  "a100-40": 40960,
  l40s: 46068,
  rtx4090: 24564,
  l4: 23034,
};
