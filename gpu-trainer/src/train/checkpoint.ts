/**
 * Checkpoints: everything a run needs to continue to exactly the weights an uninterrupted run
 * reaches, in Hugging Face layouts where one exists.
 *
 *   checkpoint-<step>/
 *     trainer_state.json          step, data cursor, RNG state, options, model and data identity
 *     optimizer.safetensors       AdamW moments (flat per-bucket fp32 vectors, as on the device)
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
import { type LoraConfig, type ModelWeights, paramShapes } from "../model/decoder.ts";
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
    const weights: ModelWeights = new Map();
    for (const k of paramShapes(config).keys()) {
      const t = tensors[k];
      if (!t) throw new Error(`checkpoint: missing trainer tensor ${k}`);
      weights.set(k, asF32(t));
    }
    await saveHfModel(tmp, config, weights, { tokenizer });
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
