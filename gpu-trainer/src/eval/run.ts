/**
 * Evaluate a model on a benchmark through the judge API: fetch the prompts, generate (KV cache,
 * batched), send the responses to the judge, write the report and per-item verdicts.
 *
 *   <out>/responses.jsonl  {index, ref, prompt, response, finish_reason, completion_tokens}
 *   <out>/verdicts.jsonl   {index, ref, followed, verdict} (the judge's answer per item)
 *   <out>/report.json      benchmark, dataset, model, generation settings, metrics, the API's report
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Engine, type Device, createEngine } from "@iopo/graph";
import { Generator } from "../generate/generator.ts";
import { type GenerationModel, loadGenerationModel } from "../generate/model.ts";
import { generateTexts } from "../generate/text.ts";
import { ApiClient } from "@iopo/common";
import { type Benchmark, type EvalMetrics, loadBenchmark, preflightTrace, scoreBenchmark } from "./benchmark.ts";

export interface EvalOptions {
  /** `tiny:<name>`, a model or checkpoint folder, an adapter folder, or a loaded model. */
  model: string | GenerationModel;
  /** ifeval | ifbench | trace | <dataset name>. */
  benchmark: string;
  /** The judge API's base URL. */
  judge: string;
  key?: string;
  /** Where to write the report and verdicts (nothing written without). */
  out?: string;
  /** The stored prompt set to use instead of the benchmark's default dataset. */
  dataset?: string;
  /** Only the first n prompts. */
  limit?: number;
  device?: Device;
  /** An engine to use instead of `device` (not closed here). */
  engine?: Engine;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  batchSize?: number;
  /** Seed of a `tiny:` model's random init. */
  modelSeed?: number;
  log?: (line: string) => void;
  /** Reuse prompts already fetched (several models on one benchmark). */
  prepared?: Benchmark;
}

export interface EvalItemResult {
  index: number;
  ref: Record<string, unknown>;
  prompt: string;
  response: string;
  finish_reason: string;
  completion_tokens: number;
  followed: boolean;
}

export interface EvalResult {
  benchmark: string;
  dataset: string;
  model: string;
  device: string;
  metrics: EvalMetrics;
  skipped: Record<string, number>;
  generation: { maxNewTokens: number; temperature: number; topP: number; seed: number; batchSize: number };
  seconds: { generate: number; judge: number };
  completionTokens: number;
  items: EvalItemResult[];
  apiReport?: unknown;
}

export const EVAL_DEFAULTS = { maxNewTokens: 512, temperature: 0, topP: 1, seed: 0, batchSize: 8 };

export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const api = new ApiClient(o.judge, { key: o.key });
  const bench = o.prepared ?? (await loadBenchmark(api, o.benchmark, { dataset: o.dataset, limit: o.limit }));
  const skippedNote = Object.entries(bench.skipped)
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
  log(`eval: ${bench.name} (${bench.dataset}): ${bench.items.length} prompts${skippedNote ? `; skipped ${skippedNote}` : ""}`);
  if (bench.kind === "trace" && bench.items.length) await preflightTrace(api, bench);
  const model = typeof o.model === "string" ? await loadGenerationModel(o.model, { seed: o.modelSeed }) : o.model;
  const engine = o.engine ?? (await createEngine(o.device ?? "auto"));
  const gen = {
    maxNewTokens: o.maxNewTokens ?? EVAL_DEFAULTS.maxNewTokens,
    temperature: o.temperature ?? EVAL_DEFAULTS.temperature,
    topP: o.topP ?? EVAL_DEFAULTS.topP,
    seed: o.seed ?? EVAL_DEFAULTS.seed,
    batchSize: o.batchSize ?? EVAL_DEFAULTS.batchSize,
  };
  let texts;
  const t0 = performance.now();
  try {
    const generator = await Generator.create({ engine, config: model.config, weights: model.weights });
    try {
      let last = 0;
      texts = await generateTexts(
        generator,
        model,
        bench.items.map((it) => ({ prompt: it.prompt, system: it.system })),
        {
          ...gen,
          onProgress: (done, total) => {
            if (done === total || performance.now() - last > 10_000) {
              last = performance.now();
              log(`  generated ${done}/${total}`);
            }
          },
        },
      );
    } finally {
      await generator.dispose();
    }
  } finally {
    if (!o.engine) await engine.close();
  }
  const t1 = performance.now();
  const scored = await scoreBenchmark(
    api,
    bench,
    texts.map((t) => t.response),
  );
  const t2 = performance.now();
  const followed = new Map(scored.items.map((s) => [s.index, s]));
  const items: EvalItemResult[] = bench.items.map((it, i) => ({
    index: it.index,
    ref: it.ref,
    prompt: it.prompt,
    response: texts[i].response,
    finish_reason: texts[i].finishReason,
    completion_tokens: texts[i].completionTokens,
    followed: followed.get(it.index)?.followed ?? false,
  }));
  const result: EvalResult = {
    benchmark: bench.name,
    dataset: bench.dataset,
    model: model.source,
    device: engine.description,
    metrics: scored.metrics,
    skipped: bench.skipped,
    generation: gen,
    seconds: { generate: (t1 - t0) / 1000, judge: (t2 - t1) / 1000 },
    completionTokens: texts.reduce((s, t) => s + t.completionTokens, 0),
    items,
    apiReport: scored.apiReport,
  };
  if (o.out) {
    await mkdir(o.out, { recursive: true });
    await writeFile(join(o.out, "responses.jsonl"), items.map(({ followed: _f, ...r }) => JSON.stringify(r)).join("\n") + "\n");
    await writeFile(
      join(o.out, "verdicts.jsonl"),
      scored.items
        .map((s) => JSON.stringify({ index: s.index, ref: bench.items[s.index].ref, followed: s.followed, verdict: s.verdict }))
        .join("\n") + "\n",
    );
    const { items: _items, ...report } = result;
    await writeFile(join(o.out, "report.json"), JSON.stringify(report, null, 2) + "\n");
  }
  return result;
}
