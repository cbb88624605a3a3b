/**
 * Checkpoints: everything a run needs to continue to exactly the weights an uninterrupted run
 * reaches, in Hugging Face layouts where one exists.
 *
 *   checkpoint-<step>/
 *     trainer_state.json          step, data cursor, RNG state, options, model and data identity
 *     optimizer.safetensors       AdamW moments (flat per-bucket fp32 vectors, as on the device;
 *                                 a full fine-tune's embedding and head in vocabulary chunks)
 *     model.safetensors           full fine-tuning: every weight (HF names and layout), with
 *     config.json, tokenizer.*    ... so the folder loads in transformers as it is
 *     adapter_model.safetensors   LoRA: the adapters (PEFT names and layout), with
 *     adapter_config.json         ... the base model named in trainer_state.json
 *
 * A checkpoint is written to a hidden temporary folder and renamed into place, so a run killed
 * while saving leaves the previous checkpoints intact and no half-written one.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostTensor } from "@iopo/graph";
import type { Cursor } from "../data/order.ts";
import type { DecoderConfig } from "../model/config.ts";
import { type LoraConfig, type ModelWeights, joinVocabParams, splitVocabParams, vocabParamShapes } from "../model/decoder.ts";
import { type F32Tensor, SafetensorsFile, writeSafetensors } from "../model/safetensors.ts";
import { loadHfWeights, loadLoraAdapter, saveHfModel, saveLoraAdapter } from "../model/weights.ts";
import type { ChatTokenizer } from "../tokenizer/index.ts";

export const STATE_FORMAT = "iopo-train/1";

export interface TrainerStateFile {
  format: typeof STATE_FORMAT;
  step: number;
  totalSteps: number;
  cursor: Cursor;
  /** The run's RNG (mulberry32): its seed and current state. */
  rng: { seed: number; state: number };
  model: { source: string; fingerprint: string };
  data: { source: string; key: string };
  lora: LoraConfig | null;
  /**
   * Full fine-tuning: the vocabulary rows per chunk parameter of the embedding and head, which
   * lays out their moments (decoder.ts's vocabParamShapes); absent in checkpoints written before
   * the chunks, whose moments hold each as one tensor.
   */
  vocabChunk?: number;
  /** The options the run was started with (see TrainOptions). */
  options: Record<string, unknown>;
  savedAt: string;
}

export interface CheckpointContents {
  dir: string;
  state: TrainerStateFile;
  /** Full fine-tuning: every weight, trainer layout. */
  weights?: ModelWeights;
  /** LoRA: the adapters, trainer layout. */
  adapter?: ModelWeights;
  /** Optimizer moments by the Trainer's state names (adam.m.b0, ...). */
  moments: Record<string, HostTensor>;
}

const asF32 = (t: HostTensor): Float32Array => t.data as Float32Array;

export async function saveCheckpoint(
  out: string,
  args: {
    state: TrainerStateFile;
    config: DecoderConfig;
    tokenizer: ChatTokenizer;
    /** Trainer tensors: trainable params (trainer layout) and moments. */
    tensors: Record<string, HostTensor>;
  },
): Promise<string> {
  const { state, config, tokenizer, tensors } = args;
  const name = `checkpoint-${state.step}`;
  const final = join(out, name);
  const tmp = join(out, `.${name}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const moments: Record<string, F32Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith("adam.")) moments[k] = { shape: t.shape, data: asF32(t) };
  await writeSafetensors(join(tmp, "optimizer.safetensors"), moments, { metadata: { step: String(state.step) } });
  if (state.lora) {
    const adapter: ModelWeights = new Map();
    for (const [k, t] of Object.entries(tensors)) if (k.includes(".lora_")) adapter.set(k, asF32(t));
    await saveLoraAdapter(tmp, config, state.lora, adapter, state.model.source);
  } else {
    const held: ModelWeights = new Map();
    for (const k of vocabParamShapes(config, state.vocabChunk ?? 0).keys()) {
      const t = tensors[k];
      if (!t) throw new Error(`checkpoint: missing trainer tensor ${k}`);
      held.set(k, asF32(t));
    }
    await saveHfModel(tmp, config, joinVocabParams(config, held), { tokenizer });
  }
  await writeFile(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 2) + "\n");
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  return final;
}

/** checkpoint-<step> folders in `out`, by step. */
export async function listCheckpoints(out: string): Promise<{ step: number; dir: string }[]> {
  if (!existsSync(out)) return [];
  const names = await readdir(out);
  return names
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && existsSync(join(out, m[0], "trainer_state.json")))
    .map((m) => ({ step: Number(m[1]), dir: join(out, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export async function readTrainerState(dir: string): Promise<TrainerStateFile> {
  const p = join(dir, "trainer_state.json");
  if (!existsSync(p)) throw new CheckpointError(`${dir} is not a checkpoint (no trainer_state.json)`);
  const s = JSON.parse(await readFile(p, "utf8")) as TrainerStateFile;
  if (s.format !== STATE_FORMAT) throw new CheckpointError(`${p}: unknown format ${String(s.format)}`);
  return s;
}

export async function loadCheckpoint(dir: string, config: DecoderConfig): Promise<CheckpointContents> {
  const state = await readTrainerState(dir);
  const opt = await SafetensorsFile.open(join(dir, "optimizer.safetensors"));
  const moments: Record<string, HostTensor> = {};
  for (const n of opt.names) {
    const t = await opt.readF32(n);
    moments[n] = { dtype: "float32", shape: t.shape, data: t.data };
  }
  if (state.lora) {
    const { weights } = await loadLoraAdapter(dir, config);
    return { dir, state, adapter: weights, moments };
  }
  return { dir, state, weights: await loadHfWeights(dir, config), moments };
}

/**
 * A full fine-tune's moments (flat per-bucket vectors) from the layout a checkpoint wrote them in
 * (`state.vocabChunk`; absent: whole embedding and head) to a Trainer's: its parameters
 * vocabParamShapes(config, vocabChunk) in order, in buckets of `bucketSizes` elements. A moment
 * is laid out as its parameter, so the vectors are cut into parameters, their vocabulary chunks
 * joined and split again, and the parameters concatenated into the new buckets.
 */
export function relayoutMoments(
  config: DecoderConfig,
  saved: CheckpointContents,
  vocabChunk: number,
  bucketSizes: number[],
): Record<string, HostTensor> {
  const from = saved.state.vocabChunk ?? 0;
  if (saved.state.lora || from === vocabChunk) return saved.moments;
  const out: Record<string, HostTensor> = {};
  for (const moment of ["adam.m", "adam.v"]) {
    const buckets = Object.keys(saved.moments)
      .filter((k) => k.startsWith(`${moment}.b`))
      .sort((a, b) => Number(a.slice(moment.length + 2)) - Number(b.slice(moment.length + 2)))
      .map((k) => asF32(saved.moments[k]));
    const flat = concatF32(buckets);
    const perParam: ModelWeights = new Map();
    let at = 0;
    for (const [name, shape] of vocabParamShapes(config, from)) {
      const n = shape.reduce((a, b) => a * b, 1);
      perParam.set(name, flat.subarray(at, at + n));
      at += n;
    }
    if (at !== flat.length) throw new CheckpointError(`${saved.dir}: ${moment} holds ${flat.length} values, the model's parameters ${at}`);
    const held = splitVocabParams(config, joinVocabParams(config, perParam), vocabChunk);
    const expected = bucketSizes.reduce((a, b) => a + b, 0);
    if (expected !== at)
      throw new CheckpointError(`${saved.dir}: the trainer's moments hold ${expected} values, the model's parameters ${at}`);
    const next = concatF32([...vocabParamShapes(config, vocabChunk).keys()].map((name) => held.get(name) as Float32Array));
    let b0 = 0;
    bucketSizes.forEach((n, k) => {
      out[`${moment}.b${k}`] = { dtype: "float32", shape: [n], data: next.slice(b0, b0 + n) };
      b0 += n;
    });
  }
  return out;
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
