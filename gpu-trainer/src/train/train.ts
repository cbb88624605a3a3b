/**
 * The training loop: options -> model, data, reference log-probs, Trainer -> steps with metrics,
 * evaluation, checkpoints, and at the end a plot and a summary.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Mulberry32 } from "@iopo/common";
import type { Engine, HostTensor } from "../engine/types.ts";
import { type Dataset, defaultCacheDir, openDataset } from "../data/dataset.ts";
import { type Cursor, type Example, ExampleOrder } from "../data/order.ts";
import { SHARD_FORMAT } from "../data/samples.ts";
import { type Model, loadModel } from "../model/index.ts";
import { Trainer } from "../trainer.ts";
import { collate, encodeExample } from "./batch.ts";
import { CheckpointError, type TrainerStateFile, listCheckpoints, loadCheckpoint, saveCheckpoint, STATE_FORMAT } from "./checkpoint.ts";
import { createEngine } from "./engine.ts";
import { trainingModel } from "./graphs.ts";
import { BLOCKS, type Method, needsReference } from "./losses.ts";
import { ConfigError, type OptionValues, type ResolvedOptions, resolveOptions, resumeMismatches } from "./options.ts";
import { referenceLogprobs } from "./refcache.ts";
import { MetricsLog, type MetricsRow, Progress, type ProgressMode, plotSvg } from "./report.ts";

export { ConfigError, DEFAULTS, parseLoraTargets, resolveOptions } from "./options.ts";
export type { ResolvedOptions } from "./options.ts";

/** A run that cannot go on (the loss diverged): reported as one line, like a ConfigError. */
export class TrainingError extends Error {
  override name = "TrainingError";
}

export type Scheduler = ResolvedOptions["scheduler"];

/** The table's options (src/train/options.ts) plus what only a program can pass. */
export type TrainOptions = Omit<OptionValues, "model" | "data" | "resume" | "progress"> & {
  /** `tiny:<name>`, a model folder, or a loaded Model. */
  model: string | Model;
  /** `api://host[:port]/datasets/<name>[@version]`, a JSONL file, or an opened Dataset. */
  data: string | Dataset;
  /** Continue from the latest checkpoint in `out` (true) or from a checkpoint folder. */
  resume?: boolean | string;
  progress?: ProgressMode | "auto";
  /** An engine to use instead of `device` (not closed by train). */
  engine?: Engine;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Called with every metrics row (training steps and evaluations). */
  onMetrics?: (row: MetricsRow) => void;
};

export interface TrainSummary {
  method: Method;
  model: string;
  data: string;
  device: string;
  steps: number;
  totalSteps: number;
  epochs: number;
  examples: number;
  tokens: number;
  seconds: number;
  /** Means over the last 10% of steps (at least one). */
  final: Record<string, number>;
  eval?: Record<string, number>;
  checkpoint: string;
  resumedFrom?: number;
}

export interface TrainResult {
  out: string;
  /** Training rows of this run (from a resume: only the steps it ran). */
  metrics: MetricsRow[];
  evals: MetricsRow[];
  summary: TrainSummary;
  checkpoint: string;
}

/** Mean over examples of per-batch metric means (weights: examples per batch). */
function weightedMean(rows: { n: number; m: Record<string, number> }[]): Record<string, number> {
  const total = rows.reduce((s, r) => s + r.n, 0);
  const out: Record<string, number> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r.m)) out[k] = (out[k] ?? 0) + (v * r.n) / total;
  return out;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const opts = resolveOptions(o);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const method = opts.method;

  // ---- where we start: fresh, or a checkpoint ----
  const checkpoints = await listCheckpoints(opts.out);
  let resumeDir: string | undefined;
  if (o.resume) {
    if (typeof o.resume === "string") resumeDir = resolve(o.resume);
    else if (checkpoints.length) resumeDir = checkpoints[checkpoints.length - 1].dir;
    else log(`resume: no checkpoint in ${opts.out} yet; starting from step 0`);
  } else if (checkpoints.length || existsSync(join(opts.out, "metrics.jsonl")))
    throw new ConfigError(`${opts.out} already holds a run (${checkpoints.length ? `checkpoint-${checkpoints[checkpoints.length - 1].step}` : "metrics.jsonl"}); pass --resume to continue it or choose another --out`);

  const model = typeof o.model === "string" ? await loadModel(o.model, { seed: opts.seed }) : o.model;
  const dataset =
    typeof o.data === "string"
      ? await openDataset(o.data, { format: SHARD_FORMAT[method], cacheDir, apiKey: o.apiKey ?? process.env.IOPO_API_KEY, log })
      : o.data;
  const dataSource = typeof o.data === "string" ? o.data : dataset.description;
  const order = new ExampleOrder(dataset, method, opts.seed, opts.valSize);
  const perStep = opts.batchSize * opts.gradAccum;
  const stepsPerEpoch = order.stepsPerEpoch(perStep);
  if (stepsPerEpoch < 1)
    throw new ConfigError(`one optimizer step needs ${perStep} examples (--batch-size x --grad-accum) but the training split has ${order.examplesPerEpoch}`);
  const totalSteps = opts.maxSteps ?? Math.max(1, Math.ceil(opts.epochs * stepsPerEpoch));

  const resumed = resumeDir ? await loadCheckpoint(resumeDir, model.config).catch((e: Error) => {
    throw e instanceof CheckpointError ? e : new CheckpointError(`cannot load checkpoint ${resumeDir}: ${e.message}`);
  }) : undefined;
  if (resumed) {
    const s = resumed.state;
    const diffs = resumeMismatches({ ...(s.options as Partial<ResolvedOptions>), lora: s.lora }, opts);
    if (diffs.length) throw new ConfigError(`cannot resume ${resumeDir}: it was trained with different ${diffs.join(", ")}`);
    if (s.model.fingerprint !== model.fingerprint) throw new ConfigError(`cannot resume ${resumeDir}: it was trained from a different model (${s.model.source})`);
    if (s.data.key !== dataset.key) throw new ConfigError(`cannot resume ${resumeDir}: it was trained on different data (${s.data.source})`);
  }

  await mkdir(opts.out, { recursive: true });
  const engine = o.engine ?? (await createEngine(opts.device, log));
  // the run's RNG (LoRA init): its state is checkpointed with the rest
  const rng = new Mulberry32(opts.seed, resumed?.state.rng.state);
  const loraSeed = resumed ? 0 : rng.fork();
  const metricsLog = new MetricsLog(join(opts.out, "metrics.jsonl"));
  const history = await metricsLog.truncateAfter(resumed?.state.step ?? 0);

  log(`iopo-train: ${method} on ${model.source} (${opts.lora ? `LoRA r=${opts.lora.rank} alpha=${opts.lora.alpha} on ${opts.lora.targets.join(",")}` : "full fine-tuning"}), ${engine.description}`);
  log(`data: ${order.examplesPerEpoch} training examples${opts.valSize ? ` + ${order.val.length} validation` : ""}; ${stepsPerEpoch} steps/epoch of ${opts.batchSize} x ${opts.gradAccum}; ${totalSteps} steps`);

  let trainer: Trainer | undefined;
  try {
    // ---- reference log-probs ----
    let refs: Map<string, Float32Array> | undefined;
    if (needsReference(method) && opts.ref === "cache")
      refs = await referenceLogprobs({ engine, model, examples: order.all(), method, maxLength: opts.maxLength, batchSize: Math.max(opts.batchSize, 4), dataKey: dataset.key, cacheDir, log });

    // ---- the trainer ----
    const warmupSteps = Math.ceil(opts.warmupRatio * totalSteps);
    trainer = await Trainer.create({
      engine,
      model: trainingModel({
        method,
        config: model.config,
        weights: resumed?.weights ?? model.weights,
        referenceWeights: model.weights,
        lora: opts.lora ?? undefined,
        loraInit: resumed?.adapter,
        seed: loraSeed,
        loss: { beta: opts.beta, labelSmoothing: opts.labelSmoothing, prefFtx: opts.prefFtx },
        reference: opts.ref,
      }),
      lr: opts.lr,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: opts.weightDecay,
      schedule: opts.scheduler === "constant" ? { type: "constant", warmupSteps } : { type: opts.scheduler, warmupSteps, totalSteps },
      gradAccumulation: opts.gradAccum,
      clipGradNorm: opts.clip,
      // a host-I/O GPU engine: the frozen base weights cross once, as session initializers
      frozenInSession: engine.kind === "node-webgpu",
    });
    if (resumed) await trainer.setState({ step: resumed.state.step, tensors: resumed.moments });
    const tr = trainer;

    const feedsFor = (examples: Example[]) => {
      const enc = examples.map((e) => encodeExample(model.tokenizer, e.sample, method, opts.maxLength));
      const b = collate(enc, model.config, model.tokenizer.padTokenId);
      const feeds: Record<string, HostTensor> = { ...b.feeds };
      if (refs) {
        const K = BLOCKS[method].length;
        const B = examples.length;
        const ref = new Float32Array(K * B);
        examples.forEach((e, j) => {
          const r = refs!.get(e.key);
          if (!r) throw new Error(`internal: no reference log-probs for example ${e.key}`);
          for (let k = 0; k < K; k++) ref[k * B + j] = r[k];
        });
        feeds.ref_logps = { dtype: "float32", shape: [K * B], data: ref };
      }
      return { feeds, tokens: b.tokens };
    };

    const evaluate = async (step: number): Promise<MetricsRow | undefined> => {
      if (!order.val.length) return undefined;
      const parts: { n: number; m: Record<string, number> }[] = [];
      for (let i = 0; i < order.val.length; i += opts.batchSize) {
        const chunk = order.val.slice(i, i + opts.batchSize);
        parts.push({ n: chunk.length, m: await tr.evaluate(feedsFor(chunk).feeds) });
      }
      const m = weightedMean(parts);
      const row: MetricsRow = { step };
      for (const [k, v] of Object.entries(m)) row[`eval/${k}`] = v;
      return row;
    };

    let cursor: Cursor = resumed?.state.cursor ?? { epoch: 0, sample: 0 };
    const stateFor = (step: number): TrainerStateFile => ({
      format: STATE_FORMAT,
      step,
      totalSteps,
      cursor,
      rng: { seed: rng.seed, state: rng.state },
      model: { source: model.source, fingerprint: model.fingerprint },
      data: { source: dataSource, key: dataset.key },
      lora: opts.lora,
      options: { ...opts, out: undefined },
      savedAt: new Date().toISOString(),
    });
    let lastCheckpoint = resumeDir ?? "";
    const save = async (step: number) => {
      const tensors = (await tr.getState((n) => n.startsWith("adam.") || tr.trainable.some((p) => p.name === n))).tensors;
      lastCheckpoint = await saveCheckpoint(opts.out, { state: stateFor(step), config: model.config, tokenizer: model.tokenizer, tensors });
    };

    const mode: ProgressMode = o.progress === undefined || o.progress === "auto" ? (process.stderr.isTTY ? "bar" : "lines") : o.progress;
    const progress = new Progress(mode, totalSteps);
    const rows: MetricsRow[] = [];
    const evals: MetricsRow[] = [];
    const emit = async (row: MetricsRow) => {
      await metricsLog.append(row);
      o.onMetrics?.(row);
    };
    const startStep = trainer.steps;
    progress.begin(startStep);
    const t0 = performance.now();
    let tokensSeen = 0;
    let examplesSeen = 0;
    while (trainer.steps < totalSteps) {
      const { examples, start, next } = order.take(cursor, perStep);
      const micro: Record<string, HostTensor>[] = [];
      let tokens = 0;
      for (let i = 0; i < opts.gradAccum; i++) {
        const f = feedsFor(examples.slice(i * opts.batchSize, (i + 1) * opts.batchSize));
        micro.push(f.feeds);
        tokens += f.tokens;
      }
      const m = await trainer.step(opts.gradAccum === 1 ? micro[0] : micro);
      cursor = next;
      tokensSeen += tokens;
      examplesSeen += examples.length;
      const row: MetricsRow = {
        step: m.step,
        epoch: start.epoch + next.sample / order.examplesPerEpoch,
        loss: m.loss,
        grad_norm: m.gradNorm,
        learning_rate: m.lr,
      };
      for (const k of trainer.metricNames) row[k] = m[k];
      row.tokens = tokens;
      row["tokens/s"] = tokens / (m.stepMs / 1000);
      row["examples/s"] = examples.length / (m.stepMs / 1000);
      row.step_ms = m.stepMs;
      if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm))
        throw new TrainingError(`the loss or gradient norm is not finite at step ${m.step} (loss ${m.loss}, grad_norm ${m.gradNorm}): lower --lr or check the data; the last checkpoint is ${lastCheckpoint || "none"}`);
      rows.push(row);
      await emit(row);
      progress.step(row);
      if (opts.evalEvery && m.step % opts.evalEvery === 0 && m.step < totalSteps) {
        const e = await evaluate(m.step);
        if (e) {
          evals.push(e);
          await emit(e);
          progress.note(`eval at step ${m.step}: loss ${e["eval/loss"].toFixed(4)}${e["eval/rewards/accuracies"] !== undefined ? `, accuracy ${e["eval/rewards/accuracies"].toFixed(3)}` : ""}`);
        }
      }
      if (opts.saveEvery && m.step % opts.saveEvery === 0 && m.step < totalSteps) {
        await save(m.step);
        progress.note(`saved ${lastCheckpoint}`);
      }
    }
    progress.end();
    const seconds = (performance.now() - t0) / 1000;
    const finalEval = await evaluate(trainer.steps);
    if (finalEval) {
      evals.push(finalEval);
      await emit(finalEval);
    }
    if (!lastCheckpoint.endsWith(`checkpoint-${trainer.steps}`)) await save(trainer.steps);

    // ---- plot and summary ----
    const all = [...history, ...rows, ...evals].sort((a, b) => a.step - b.step);
    await writeFile(join(opts.out, "plot.svg"), plotSvg(all, `${method} on ${model.source}: ${dataSource}`));
    const trainRows = all.filter((r) => r.loss !== undefined);
    const tail = trainRows.slice(-Math.max(1, Math.ceil(trainRows.length / 10)));
    const final: Record<string, number> = {};
    for (const k of Object.keys(tail[tail.length - 1] ?? {}))
      if (!["step", "epoch", "tokens", "step_ms"].includes(k)) final[k] = tail.reduce((s, r) => s + (r[k] ?? 0), 0) / tail.length;
    const summary: TrainSummary = {
      method,
      model: model.source,
      data: dataSource,
      device: engine.description,
      steps: trainer.steps,
      totalSteps,
      epochs: totalSteps / stepsPerEpoch,
      examples: examplesSeen,
      tokens: tokensSeen,
      seconds,
      final,
      eval: finalEval ? Object.fromEntries(Object.entries(finalEval).filter(([k]) => k !== "step")) : undefined,
      checkpoint: lastCheckpoint,
      resumedFrom: resumed?.state.step,
    };
    await writeFile(join(opts.out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
    const fmt = (k: string) => (final[k] !== undefined ? ` ${k.replace("rewards/", "")} ${final[k].toFixed(4)}` : "");
    log(
      `done: ${trainer.steps} steps in ${seconds.toFixed(1)} s (${(tokensSeen / Math.max(seconds, 1e-9)).toFixed(0)} tokens/s); last 10%:${fmt("loss")}${fmt("rewards/accuracies")}${fmt("rewards/margins")}` +
        (finalEval ? `; eval loss ${finalEval["eval/loss"].toFixed(4)}` : ""),
    );
    log(`checkpoint: ${lastCheckpoint}; metrics: ${join(opts.out, "metrics.jsonl")}; plot: ${join(opts.out, "plot.svg")}`);
    return { out: opts.out, metrics: rows, evals, summary, checkpoint: lastCheckpoint };
  } finally {
    await trainer?.dispose();
    if (!o.engine) await engine.close();
  }
}

/** Checkpoint folders a run has written (for tools and tests). */
export async function runCheckpoints(out: string): Promise<string[]> {
  if (!existsSync(out)) return [];
  return (await readdir(out)).filter((n) => /^checkpoint-\d+$/.test(n)).sort((a, b) => Number(a.split("-")[1]) - Number(b.split("-")[1]));
}
