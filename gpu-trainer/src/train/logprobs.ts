/**
 * Summed response log-probs of every record of a dataset under a model (or a trained checkpoint):
 * the quantities the IOPO loss is made of, for inspection and for checking other implementations.
 */
import { type Engine, type TrainingDevice, createEngine } from "@iopo/graph";
import { type Dataset, defaultCacheDir, openDataset } from "../data/dataset.ts";
import type { Sample } from "../data/samples.ts";
import type { LoraConfig, ModelWeights } from "../model/decoder.ts";
import { type Model, loadModel } from "../model/index.ts";
import { collate, encodeExample } from "./batch.ts";
import { loadCheckpoint, readTrainerState } from "./checkpoint.ts";
import { LogprobRunner } from "./graphs.ts";
import type { Method } from "./losses.ts";

/** Row names per record kind, in the batch layout's block order (IOPO: the four pairs). */
const LAYOUT: Record<Sample["kind"], { method: Method; names: string[] }> = {
  iopo: { method: "iopo", names: ["y1|x1", "y2|x1", "y2|x2", "y1|x2"] },
  dpo: { method: "dpo", names: ["chosen", "rejected"] },
  sft: { method: "sft", names: ["response"] },
};

export interface LogprobRecord {
  id: string;
  kind: Sample["kind"];
  /** Summed log-probs of the response tokens (end-of-turn included), per pair. */
  logps: Record<string, number>;
  /** Scored response tokens per pair (after truncation). */
  tokens: Record<string, number>;
}

export interface LogprobOptions {
  model: string | Model;
  data: string | Dataset;
  /** A checkpoint folder: score its policy (LoRA adapters or full weights) instead of the base model. */
  checkpoint?: string;
  maxLength?: number;
  batchSize?: number;
  device?: TrainingDevice;
  engine?: Engine;
  seed?: number;
  apiKey?: string;
  cacheDir?: string;
  /** Shard format to read from the API (default iopo). */
  format?: "iopo" | "dpo" | "sft";
}

export async function computeLogprobs(o: LogprobOptions): Promise<LogprobRecord[]> {
  const model = typeof o.model === "string" ? await loadModel(o.model, { seed: o.seed }) : o.model;
  const dataset =
    typeof o.data === "string"
      ? await openDataset(o.data, {
          format: o.format ?? "iopo",
          cacheDir: o.cacheDir ?? defaultCacheDir(),
          apiKey: o.apiKey ?? process.env.IOPO_API_KEY,
        })
      : o.data;
  let weights: ModelWeights = model.weights;
  let lora: { config: LoraConfig; weights: ModelWeights } | undefined;
  if (o.checkpoint) {
    const state = await readTrainerState(o.checkpoint);
    const ck = await loadCheckpoint(o.checkpoint, model.config);
    if (ck.weights) weights = ck.weights;
    if (ck.adapter && state.lora) lora = { config: state.lora, weights: ck.adapter };
  }
  const maxLength = o.maxLength ?? 1024;
  const batchSize = o.batchSize ?? 8;
  const engine = o.engine ?? (await createEngine(o.device ?? "auto"));
  const runner = await LogprobRunner.create(engine, model.config, weights, lora);
  const out: LogprobRecord[] = [];
  try {
    const samples = dataset.records.flat();
    // consecutive samples of one kind form a batch
    for (let i = 0; i < samples.length; ) {
      const kind = samples[i].kind;
      const chunk: Sample[] = [];
      while (i < samples.length && chunk.length < batchSize && samples[i].kind === kind) chunk.push(samples[i++]);
      const { method, names } = LAYOUT[kind];
      const enc = chunk.map((s) => encodeExample(model.tokenizer, s, method, maxLength));
      const b = collate(enc, model.config, model.tokenizer.padTokenId);
      const lp = await runner.run(b.feeds);
      const B = chunk.length;
      chunk.forEach((s, j) => {
        const rec: LogprobRecord = { id: s.id, kind, logps: {}, tokens: {} };
        names.forEach((n, k) => {
          rec.logps[n] = lp[k * B + j];
          rec.tokens[n] = b.responseTokens[k * B + j];
        });
        out.push(rec);
      });
    }
  } finally {
    await runner.dispose();
    if (!o.engine) await engine.close();
  }
  return out;
}
