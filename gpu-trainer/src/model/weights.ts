/**
 * Hugging Face checkpoint folders <-> the trainer's weights (linear weights transposed, see
 * decoder.ts). Loading accepts fp32, fp16 and bf16 tensors, one file or sharded, and keeps 16-bit
 * ones 16-bit (fp16; see ModelWeights); saving writes HF names and layout, fp16 weights as F16, so
 * transformers (and PEFT, for adapters) load what we write.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChatTokenizer } from "../tokenizer/index.ts";
import { type DecoderConfig, UnsupportedModelError, parseHfConfig, toHfConfig } from "./config.ts";
import {
  type LoraConfig,
  type ModelWeights,
  type WeightData,
  asF32,
  isTransposedInTrainer,
  linearShape,
  loraNames,
  paramShapes,
} from "./decoder.ts";
import { type F32Tensor, SafetensorsError, type WeightTensor, openCheckpointWeights, writeCheckpointWeights } from "./safetensors.ts";

/** Transpose a row-major [rows, cols] matrix (fp16 bits move as 16-bit words). */
export function transpose2d<T extends WeightData>(data: T, rows: number, cols: number): T {
  const out = (data instanceof Uint16Array ? new Uint16Array(data.length) : new Float32Array(data.length)) as T;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Tensors HF checkpoints may carry that the network does not use. */
const IGNORED = [/rotary_emb\.inv_freq$/, /^lm_head\.weight$/];

export async function readConfig(dir: string): Promise<DecoderConfig> {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new UnsupportedModelError(`no config.json in ${dir}`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new UnsupportedModelError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseHfConfig(raw);
}

export interface LoadWeightsOptions {
  /** fp32 for every weight (the layout before 16-bit weights stayed 16-bit; a reference in tests). */
  widen?: boolean;
}

/**
 * Load a checkpoint folder's weights into the trainer's layout. fp16 and bf16 tensors stay 16-bit
 * (fp16 bits) unless `widen`: the host holds a 16-bit checkpoint at its own size, one tensor's
 * transpose more at the peak.
 */
export async function loadHfWeights(dir: string, c: DecoderConfig, opts: LoadWeightsOptions = {}): Promise<ModelWeights> {
  const files = await openCheckpointWeights(dir);
  const shapes = paramShapes(c);
  const out: ModelWeights = new Map();
  const missing: string[] = [];
  // a transposed tensor is read into one reused buffer and transposed out of it: no garbage of a
  // checkpoint's size waiting for the collector at the peak
  let largest = 0;
  for (const name of shapes.keys()) {
    const e = files.get(name)?.header.tensors[name];
    if (e && isTransposedInTrainer(name)) largest = Math.max(largest, e.dataOffsets[1] - e.dataOffsets[0]);
  }
  const scratch = opts.widen ? undefined : new Uint8Array(largest);
  for (const [name, shape] of shapes) {
    const f = files.get(name);
    if (!f) {
      missing.push(name);
      continue;
    }
    const t = opts.widen ? await f.readF32(name) : await f.readWeight(name, isTransposedInTrainer(name) ? scratch : undefined);
    const hfShape = isTransposedInTrainer(name) ? [shape[1], shape[0]] : shape;
    if (t.shape.join() !== hfShape.join())
      throw new SafetensorsError(`${name}: checkpoint shape [${t.shape}] does not match config.json ([${hfShape}])`);
    out.set(name, isTransposedInTrainer(name) ? transpose2d(t.data, hfShape[0], hfShape[1]) : t.data);
  }
  if (missing.length)
    throw new SafetensorsError(
      `${dir}: missing weights ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`,
    );
  const unknown = [...files.keys()].filter((n) => !shapes.has(n) && !IGNORED.some((r) => r.test(n)));
  if (unknown.length)
    throw new SafetensorsError(`${dir}: unexpected weights ${unknown.slice(0, 5).join(", ")} (not a plain ${c.architecture} causal LM?)`);
  return out;
}

/** The trainer's weights as HF tensors (names, shapes, [out, in] layout), fp16 ones still fp16. */
export function toHfTensors(c: DecoderConfig, weights: ModelWeights): Record<string, WeightTensor> {
  const out: Record<string, WeightTensor> = {};
  for (const [name, shape] of paramShapes(c)) {
    const data = weights.get(name);
    if (!data) throw new Error(`missing weight ${name}`);
    out[name] = isTransposedInTrainer(name)
      ? { shape: [shape[1], shape[0]], data: transpose2d(data, shape[0], shape[1]) }
      : { shape: [...shape], data };
  }
  return out;
}

export interface SaveModelOptions {
  dtype?: "F32" | "F16" | "BF16";
  maxShardBytes?: number;
  tokenizer?: ChatTokenizer;
}

/** Write config.json, the weights (safetensors) and the tokenizer files: a loadable HF folder. */
export async function saveHfModel(dir: string, c: DecoderConfig, weights: ModelWeights, opts: SaveModelOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const cfg = toHfConfig(c);
  if (opts.dtype && opts.dtype !== "F32") cfg.torch_dtype = opts.dtype === "BF16" ? "bfloat16" : "float16";
  await writeFile(join(dir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
  await writeCheckpointWeights(dir, toHfTensors(c, weights), { dtype: opts.dtype, maxShardBytes: opts.maxShardBytes });
  if (opts.tokenizer) await saveTokenizer(dir, opts.tokenizer);
}

export async function saveTokenizer(dir: string, tok: ChatTokenizer): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizerJson));
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(tok.tokenizerConfig, null, 2) + "\n");
}

// ---- LoRA adapters in PEFT's layout ----

const PEFT_PREFIX = "base_model.model.";

/** Write adapter_model.safetensors + adapter_config.json (PEFT names: A [r, in], B [out, r]). */
export async function saveLoraAdapter(
  dir: string,
  c: DecoderConfig,
  lora: LoraConfig,
  adapter: ModelWeights,
  baseModel: string,
): Promise<void> {
  const tensors: Record<string, F32Tensor> = {};
  for (let l = 0; l < c.numLayers; l++)
    for (const m of lora.targets) {
      const n = loraNames(l, m);
      const [i, o] = linearShape(c, m);
      const a = adapter.get(n.a);
      const b = adapter.get(n.b);
      if (!a || !b) throw new Error(`missing adapter weights for ${n.a}`);
      tensors[PEFT_PREFIX + n.a] = { shape: [lora.rank, i], data: transpose2d(asF32(a), i, lora.rank) };
      tensors[PEFT_PREFIX + n.b] = { shape: [o, lora.rank], data: transpose2d(asF32(b), lora.rank, o) };
    }
  await writeCheckpointWeights(dir, tensors, { prefix: "adapter_model" });
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    bias: "none",
    target_modules: lora.targets,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
  };
  await writeFile(join(dir, "adapter_config.json"), JSON.stringify(config, null, 2) + "\n");
}

/** Read a PEFT adapter folder back into the trainer's layout. */
export async function loadLoraAdapter(dir: string, c: DecoderConfig): Promise<{ lora: LoraConfig; weights: ModelWeights }> {
  const cfgPath = join(dir, "adapter_config.json");
  if (!existsSync(cfgPath)) throw new SafetensorsError(`no adapter_config.json in ${dir}`);
  const cfg = JSON.parse(await readFile(cfgPath, "utf8")) as { r: number; lora_alpha: number; target_modules: string[] };
  const lora: LoraConfig = { rank: cfg.r, alpha: cfg.lora_alpha, targets: cfg.target_modules as LoraConfig["targets"] };
  const files = await openCheckpointWeights(dir, "adapter_model");
  const weights: ModelWeights = new Map();
  for (let l = 0; l < c.numLayers; l++)
    for (const m of lora.targets) {
      const n = loraNames(l, m);
      const [i, o] = linearShape(c, m);
      for (const [name, rows, cols] of [
        [n.a, lora.rank, i],
        [n.b, o, lora.rank],
      ] as const) {
        const f = files.get(PEFT_PREFIX + name);
        if (!f) throw new SafetensorsError(`${dir}: missing adapter weight ${PEFT_PREFIX + name}`);
        const t = await f.readF32(PEFT_PREFIX + name);
        weights.set(name, transpose2d(t.data, rows, cols));
      }
    }
  return { lora, weights };
}

/** base + (alpha/r) A B for every adapted module (the weights of a merged model). */
export function mergeLora(c: DecoderConfig, base: ModelWeights, lora: LoraConfig, adapter: ModelWeights): ModelWeights {
  const out: ModelWeights = new Map(base);
  const scale = lora.alpha / lora.rank;
  for (let l = 0; l < c.numLayers; l++)
    for (const m of lora.targets) {
      const n = loraNames(l, m);
      const [i, o] = linearShape(c, m);
      const a = asF32(adapter.get(n.a)!);
      const b = asF32(adapter.get(n.b)!);
      const wName = n.a.replace(".lora_A.weight", ".weight");
      const baseW = base.get(wName)!;
      const w = baseW instanceof Float32Array ? Float32Array.from(baseW) : asF32(baseW);
      const r = lora.rank;
      const acc = new Float64Array(o);
      for (let x = 0; x < i; x++) {
        acc.fill(0);
        for (let k = 0; k < r; k++) {
          const av = a[x * r + k];
          for (let y = 0; y < o; y++) acc[y] += av * b[k * o + y];
        }
        for (let y = 0; y < o; y++) w[x * o + y] += scale * acc[y];
      }
      out.set(wName, w);
    }
  return out;
}

/**
 * A fingerprint of a model folder that changes whenever its weights, config or tokenizer do,
 * without hashing gigabytes: config and tokenizer bytes, safetensors headers and file sizes.
 */
export async function fingerprintDir(dir: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json"]) {
    const p = join(dir, f);
    if (existsSync(p)) h.update(f).update(await readFile(p));
  }
  const files = await openCheckpointWeights(dir);
  const seen = new Set<string>();
  for (const f of files.values()) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    h.update(JSON.stringify(f.header.tensors))
      .update(String((await stat(f.path)).size))
      .update(String((await stat(f.path)).mtimeMs));
  }
  return h.digest("hex").slice(0, 16);
}
