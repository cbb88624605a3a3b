/**
 * Models: a Hugging Face folder (config.json, safetensors, tokenizer) or a built-in tiny config
 * (`tiny:<name>`, random init from a seed, with the tokenizer built in code).
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { init } from "@iopo/graph";
import { ChatTokenizer } from "../tokenizer/index.ts";
import { tinyTokenizerFiles } from "../tokenizer/tiny.ts";
import { type DecoderConfig, UnsupportedModelError, parseHfConfig } from "./config.ts";
import { type ModelWeights, paramShapes } from "./decoder.ts";
import { type LoadWeightsOptions, fingerprintDir, loadHfWeights, readConfig } from "./weights.ts";

export interface Model {
  config: DecoderConfig;
  /** Base weights in the trainer's layout (a 16-bit checkpoint's as fp16 bits). */
  weights: ModelWeights;
  tokenizer: ChatTokenizer;
  /** What was asked for: a folder path or tiny:<name>. */
  source: string;
  /** Changes whenever the weights could (keys reference log-prob caches). */
  fingerprint: string;
}

type TinyShape = Pick<DecoderConfig, "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "numKvHeads"> & {
  architecture: "llama" | "qwen2";
  tie: boolean;
  ropeTheta: number;
};

/** Built-in tiny configs (tests, demos, benchmarks). */
export const TINY_MODELS: Record<string, TinyShape & { summary: string }> = {
  micro: {
    summary: "Llama, 1 layer, D=32, 2 heads / 1 KV head (fastest tests)",
    architecture: "llama",
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 1,
    numHeads: 2,
    numKvHeads: 1,
    tie: false,
    ropeTheta: 10000,
  },
  llama: {
    summary: "Llama, 2 layers, D=64, 4 heads / 2 KV heads, untied head",
    architecture: "llama",
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    tie: false,
    ropeTheta: 10000,
  },
  qwen2: {
    summary: "Qwen2, 2 layers, D=64, 4 heads / 1 KV head, qkv bias, tied embeddings",
    architecture: "qwen2",
    hiddenSize: 64,
    intermediateSize: 160,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 1,
    tie: true,
    ropeTheta: 1e6,
  },
  small: {
    summary: "Llama, 4 layers, D=256, 8 heads / 4 KV heads (demos, benchmarks)",
    architecture: "llama",
    hiddenSize: 256,
    intermediateSize: 704,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 4,
    tie: false,
    ropeTheta: 10000,
  },
};

export function tinyConfig(name: string, vocabSize: number): DecoderConfig {
  const t = TINY_MODELS[name];
  if (!t)
    throw new UnsupportedModelError(
      `unknown tiny model "tiny:${name}" (choose ${Object.keys(TINY_MODELS)
        .map((k) => `tiny:${k}`)
        .join(", ")})`,
    );
  const raw: Record<string, unknown> = {
    architectures: [t.architecture === "llama" ? "LlamaForCausalLM" : "Qwen2ForCausalLM"],
    model_type: t.architecture,
    vocab_size: vocabSize,
    hidden_size: t.hiddenSize,
    intermediate_size: t.intermediateSize,
    num_hidden_layers: t.numLayers,
    num_attention_heads: t.numHeads,
    num_key_value_heads: t.numKvHeads,
    hidden_act: "silu",
    rms_norm_eps: 1e-6,
    rope_theta: t.ropeTheta,
    max_position_embeddings: 2048,
    tie_word_embeddings: t.tie,
    initializer_range: 0.02,
    eos_token_id: 2,
    pad_token_id: 0,
    torch_dtype: "float32",
  };
  return parseHfConfig(raw);
}

/**
 * Random init as transformers does it, N(0, 0.02) for matrices and ones for norms, except that
 * biases get N(0, 0.02) too (not zeros), so the qkv-bias path matters from the first step.
 */
export function randomWeights(c: DecoderConfig, seed: number): ModelWeights {
  const w: ModelWeights = new Map();
  let k = 0;
  for (const [name, shape] of paramShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    k++;
    if (name.endsWith("norm.weight")) w.set(name, new Float32Array(n).fill(1));
    else w.set(name, init.normal(0.02, seed * 1000 + k)(n) as Float32Array);
  }
  return w;
}

export function tinyTokenizer(): ChatTokenizer {
  const f = tinyTokenizerFiles();
  return new ChatTokenizer(f.tokenizerJson, f.tokenizerConfig);
}

/** A built-in tiny model, random-initialised from `seed`. */
export function createTinyModel(name: string, seed = 0): Model {
  const tokenizer = tinyTokenizer();
  const config = tinyConfig(name, tokenizer.vocabSize);
  return { config, weights: randomWeights(config, seed), tokenizer, source: `tiny:${name}`, fingerprint: `tiny-${name}-seed${seed}` };
}

/**
 * Load `tiny:<name>` or a folder with config.json, model.safetensors (or a sharded index) and
 * tokenizer.json / tokenizer_config.json.
 */
export async function loadModel(spec: string, opts: { seed?: number } & LoadWeightsOptions = {}): Promise<Model> {
  if (spec.startsWith("tiny:")) return createTinyModel(spec.slice(5), opts.seed ?? 0);
  const dir = resolve(spec);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UnsupportedModelError(`model folder not found: ${spec}`);
  const config = await readConfig(dir);
  const tokenizer = await ChatTokenizer.fromDir(dir);
  if (tokenizer.vocabSize > config.vocabSize)
    throw new UnsupportedModelError(`tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}`);
  const weights = await loadHfWeights(dir, config, { widen: opts.widen });
  return { config, weights, tokenizer, source: dir, fingerprint: await fingerprintDir(dir) };
}

export * from "./config.ts";
export * from "./decoder.ts";
export * from "./safetensors.ts";
export * from "./weights.ts";
