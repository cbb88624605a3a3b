/**
 * Export a checkpoint: a Hugging Face folder (config.json, model.safetensors, tokenizer files;
 * LoRA runs either merged into the weights or as a PEFT adapter beside its base) and, optionally,
 * an ONNX inference graph (model.onnx: input_ids, attention_mask, position_ids -> logits), its
 * weights in model.onnx.data (ONNX external data) where they would pass protobuf's 2 GiB or when asked.
 */
import { open, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type CompiledModel, compile, Graph, type Tensor } from "@iopo/graph";
import type { DecoderConfig } from "../model/config.ts";
import { ropeTables } from "../model/config.ts";
import { type ModelWeights, declareParams, decoderLogits } from "../model/decoder.ts";
import { type Model, loadModel } from "../model/index.ts";
import { mergeLora, saveHfModel, saveLoraAdapter, saveTokenizer } from "../model/weights.ts";
import { type CheckpointContents, loadCheckpoint, readTrainerState } from "./checkpoint.ts";

export interface ExportOptions {
  checkpoint: string;
  out: string;
  /** LoRA: write merged weights instead of base + adapter. */
  mergeLora?: boolean;
  onnx?: boolean;
  /**
   * The ONNX graph's weights in model.onnx.data (ONNX external data) even where inlined they would
   * stay under protobuf's 2 GiB (past it they always go there).
   */
  onnxExternalData?: boolean;
  /** Positions the ONNX graph's rotary table covers (default min(max_position_embeddings, 4096)). */
  onnxMaxPositions?: number;
  /** The base model, when not the one named in the checkpoint (e.g. moved). */
  model?: string | Model;
  log?: (line: string) => void;
}

export interface ExportResult {
  out: string;
  files: string[];
}

/** Open a checkpoint with its base model (from trainer_state.json unless given). */
export async function openCheckpoint(dir: string, model?: string | Model): Promise<{ model: Model; checkpoint: CheckpointContents }> {
  const state = await readTrainerState(dir);
  const m = typeof model === "object" ? model : await loadModel(model ?? state.model.source, { seed: Number(state.options.seed ?? 0) });
  return { model: m, checkpoint: await loadCheckpoint(dir, m.config) };
}

/** The side file of model.onnx's external data (ONNX's `location`, relative to the model). */
export const ONNX_EXTERNAL_DATA = "model.onnx.data";

/**
 * The inference graph: int32 input_ids, attention_mask (1 = token) and position_ids, each
 * [batch, sequence]; float32 logits [batch, sequence, vocab]. Rotary tables are constants indexed by
 * position_ids; weights are initializers (fp16 ones from a 16-bit base stay fp16, cast at use),
 * inlined, or in ONNX_EXTERNAL_DATA past protobuf's 2 GiB or with `externalData`.
 */
export function inferenceOnnx(
  c: DecoderConfig,
  weights: ModelWeights,
  maxPositions: number,
  opts: { externalData?: boolean } = {},
): CompiledModel {
  const g = new Graph();
  const ids = g.input("input_ids", "int32", ["batch", "sequence"]);
  const mask = g.input("attention_mask", "int32", ["batch", "sequence"]);
  const pos = g.input("position_ids", "int32", ["batch", "sequence"]);
  const { cos, sin } = ropeTables(c, maxPositions);
  const table = (t: Float32Array): Tensor => g.unsqueeze(g.gather(g.constant(t, [maxPositions, c.headDim]), pos, 0), 1);
  const p = declareParams(g, c, weights, { trainable: false });
  const logits = decoderLogits(p, { ids, keyMask: g.cast(mask, "float32"), cos: table(cos), sin: table(sin) });
  return compile({ logits }, { paramsAsInputs: false, externalData: { location: ONNX_EXTERNAL_DATA, always: opts.externalData } });
}

/** Write an emitted model to dir/file, and its external data beside it; the files written. */
export async function writeOnnx(dir: string, file: string, model: CompiledModel): Promise<string[]> {
  await writeFile(join(dir, file), model.bytes);
  const ext = model.externalData;
  if (!ext) return [file];
  const fh = await open(join(dir, ext.location), "w");
  try {
    for (const chunk of ext.chunks) await fh.write(chunk);
  } finally {
    await fh.close();
  }
  return [file, ext.location];
}

export async function exportCheckpoint(o: ExportOptions): Promise<ExportResult> {
  const log = o.log ?? (() => {});
  const { model, checkpoint } = await openCheckpoint(o.checkpoint, o.model);
  const c = model.config;
  const state = checkpoint.state;
  await mkdir(o.out, { recursive: true });
  const files: string[] = [];
  let inferenceWeights: ModelWeights;
  if (state.lora && checkpoint.adapter) {
    inferenceWeights = mergeLora(c, model.weights, state.lora, checkpoint.adapter);
    if (o.mergeLora) {
      await saveHfModel(o.out, c, inferenceWeights, { tokenizer: model.tokenizer });
      files.push("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json");
    } else {
      // an adapter needs its base on disk: a built-in tiny base is written beside it
      let base = model.source;
      if (base.startsWith("tiny:")) {
        base = join(o.out, "base");
        await saveHfModel(base, c, model.weights, { tokenizer: model.tokenizer });
        files.push("base/");
      }
      await saveLoraAdapter(o.out, c, state.lora, checkpoint.adapter, base);
      await saveTokenizer(o.out, model.tokenizer);
      files.push("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json");
    }
  } else {
    inferenceWeights = checkpoint.weights!;
    await saveHfModel(o.out, c, inferenceWeights, { tokenizer: model.tokenizer });
    files.push("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json");
  }
  if (o.onnx) {
    const maxPos = o.onnxMaxPositions ?? Math.min(c.maxPositionEmbeddings, 4096);
    files.push(...(await writeOnnx(o.out, "model.onnx", inferenceOnnx(c, inferenceWeights, maxPos, { externalData: o.onnxExternalData }))));
  }
  log(`exported ${o.checkpoint} to ${o.out}: ${files.join(", ")}`);
  return { out: o.out, files };
}
