/**
 * The training loop: options -> model, data, reference log-probs, Trainer -> steps with metrics,
 * evaluation, checkpoints, and at the end a plot and a summary.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Mulberry32 } from "@iopo/common";
import { createEngine, type Engine, type HostTensor, Trainer } from "@iopo/graph";
import { type Dataset, defaultCacheDir, describeHoldings, openDataset } from "../data/dataset.ts";
import { type Cursor, type Example, ExampleOrder } from "../data/order.ts";
import { SHARD_FORMAT } from "../data/samples.ts";
import { type Model, loadModel } from "../model/index.ts";
import { DEFAULT_VOCAB_CHUNK } from "../model/decoder.ts";
import { collate, encodeExample } from "./batch.ts";
import {
  CheckpointError,
  type CheckpointContents,
  type TrainerStateFile,
  listCheckpoints,
  loadCheckpoint,
  relayoutMoments,
  saveCheckpoint,
  STATE_FORMAT,
} from "./checkpoint.ts";
import { trainingModel } from "./graphs.ts";
import { BLOCKS, type Method, needsReference } from "./losses.ts";
import { ConfigError, type OptionValues, type ResolvedOptions, resolveOptions, resumeMismatches } from "./options.ts";
import { referenceLogprobs } from "./refcache.ts";
import { MetricsLog, type MetricsRow, Progress, type ProgressMode, evalMetric, plotSvg } from "./report.ts";

export { ConfigError, DEFAULTS, resolveOptions } from "./options.ts";

/** A run that cannot go on (the loss diverged): reported as one line, like a ConfigError. */
export class TrainingError extends Error {
  override name = "TrainingError";
}

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

/** What a run is made of once its options are read: the steps below share it. */
interface Run {
  opts: ResolvedOptions;
  model: Model;
  dataset: Dataset;
  /** The data as the user named it (or the dataset's description). */
  dataSource: string;
  order: ExampleOrder;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Cached reference log-probs per example key (absent: none, or computed in the graph). */
  refs?: Map<string, Float32Array>;
  log: (line: string) => void;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const opts = resolveOptions(o);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cacheDir = o.cacheDir ?? defaultCacheDir();
  const resumeDir = await findResumePoint(o.resume, opts.out, log);
  // full fine-tuning trains every weight from fp32 masters: one fp32 copy on the host (the graph's
  // params share it), not a 16-bit one beside it; LoRA keeps a 16-bit base 16-bit
  const model = typeof o.model === "string" ? await loadModel(o.model, { seed: opts.seed, widen: !opts.lora }) : o.model;
  const dataset =
    typeof o.data === "string"
      ? await openDataset(o.data, { format: SHARD_FORMAT[opts.method], cacheDir, apiKey: o.apiKey ?? process.env.IOPO_API_KEY, log })
      : o.data;
  const order = new ExampleOrder(dataset, opts.method, opts.seed, opts.valSize);
  const stepsPerEpoch = order.stepsPerEpoch(opts.batchSize * opts.gradAccum);
  if (stepsPerEpoch < 1) {
    const holdings =
      typeof o.data === "string" ? await describeHoldings(o.data, opts.method, o.apiKey ?? process.env.IOPO_API_KEY) : undefined;
    throw new ConfigError(
      `one optimizer step needs ${opts.batchSize * opts.gradAccum} examples (--batch-size x --grad-accum) but the training split has ${order.examplesPerEpoch}${holdings ? `: ${holdings}` : ""}`,
    );
  }
  const totalSteps = opts.maxSteps ?? Math.max(1, Math.ceil(opts.epochs * stepsPerEpoch));
  const run: Run = {
    opts,
    model,
    dataset,
    dataSource: typeof o.data === "string" ? o.data : dataset.description,
    order,
    stepsPerEpoch,
    totalSteps,
    log,
  };
  const resumed = resumeDir ? await loadResumable(resumeDir, run) : undefined;
  if (resumed) {
    const { step, cursor } = resumed.state;
    log(`resuming from ${resumeDir} at step ${step} of ${totalSteps} (epoch ${cursor.epoch + 1}, example ${cursor.sample})`);
  }

  await mkdir(opts.out, { recursive: true });
  const engine = o.engine ?? (await createEngine(opts.device, log));
  // the run's RNG (LoRA init): its state is checkpointed with the rest
  const rng = new Mulberry32(opts.seed, resumed?.state.rng.state);
  const loraSeed = resumed ? 0 : rng.fork();
  const metricsLog = new MetricsLog(join(opts.out, "metrics.jsonl"));
  const history = await metricsLog.truncateAfter(resumed?.state.step ?? 0);
  log(
    `iopo-train: ${opts.method} on ${model.source} (${opts.lora ? `LoRA r=${opts.lora.rank} alpha=${opts.lora.alpha} on ${opts.lora.targets.join(",")}` : "full fine-tuning"}), ${engine.description}`,
  );
  log(
    `data: ${order.examplesPerEpoch} training examples${opts.valSize ? ` + ${order.val.length} validation` : ""}; ${stepsPerEpoch} steps/epoch of ${opts.batchSize} x ${opts.gradAccum}; ${totalSteps} steps`,
  );

  let trainer: Trainer | undefined;
  try {
    if (needsReference(opts.method) && opts.ref === "cache") run.refs = await cacheReferenceLogprobs(run, engine, cacheDir);
    trainer = await createTrainer(run, engine, resumed, loraSeed);
    const tr = trainer;

    let cursor: Cursor = resumed?.state.cursor ?? { epoch: 0, sample: 0 };
    let lastCheckpoint = resumeDir ?? "";
    const save = async (step: number) => {
      lastCheckpoint = await writeCheckpoint(run, tr, { step, cursor, rng });
    };
    const rows: MetricsRow[] = [];
    const evals: MetricsRow[] = [];
    const emit = async (row: MetricsRow) => {
      await metricsLog.append(row);
      o.onMetrics?.(row);
    };
    const progress = new Progress(
      o.progress === undefined || o.progress === "auto" ? (process.stderr.isTTY ? "bar" : "lines") : o.progress,
      totalSteps,
    );
    const due = (every: number, step: number) => every > 0 && step % every === 0 && step < totalSteps;

    progress.begin(trainer.steps);
    const t0 = performance.now();
    let tokensSeen = 0;
    let examplesSeen = 0;
    while (trainer.steps < totalSteps) {
      const { row, next, examples } = await trainStep(run, tr, cursor);
      cursor = next;
      tokensSeen += row.tokens;
      examplesSeen += examples;
      if (!Number.isFinite(row.loss) || !Number.isFinite(row.grad_norm))
        throw new TrainingError(
          `the loss or gradient norm is not finite at step ${row.step} (loss ${row.loss}, grad_norm ${row.grad_norm}): lower --lr or check the data; the last checkpoint is ${lastCheckpoint || "none"}`,
        );
      rows.push(row);
      await emit(row);
      progress.step(row);
      if (due(opts.evalEvery, row.step)) {
        const e = await evaluateValidation(run, tr, row.step);
        if (e) {
          evals.push(e);
          await emit(e);
          progress.note(
            `eval at step ${row.step}: loss ${e[evalMetric("loss")].toFixed(4)}${e[evalMetric("rewards/accuracies")] !== undefined ? `, accuracy ${e[evalMetric("rewards/accuracies")].toFixed(3)}` : ""}`,
          );
        }
      }
      if (due(opts.saveEvery, row.step)) {
        await save(row.step);
        progress.note(`saved ${lastCheckpoint}`);
      }
    }
    progress.end();
    const seconds = (performance.now() - t0) / 1000;
    const finalEval = await evaluateValidation(run, tr, trainer.steps);
    if (finalEval) {
      evals.push(finalEval);
      await emit(finalEval);
    }
    if (!lastCheckpoint.endsWith(`checkpoint-${trainer.steps}`)) await save(trainer.steps);

    const summary = await writeSummary(run, {
      rows: [...history, ...rows, ...evals].sort((a, b) => a.step - b.step),
      finalEval,
      device: engine.description,
      steps: trainer.steps,
      examples: examplesSeen,
      tokens: tokensSeen,
      seconds,
      checkpoint: lastCheckpoint,
      resumedFrom: resumed?.state.step,
    });
    return { out: opts.out, metrics: rows, evals, summary, checkpoint: lastCheckpoint };
  } finally {
    await trainer?.dispose();
    if (!o.engine) await engine.close();
  }
}

/** The checkpoint to continue from (undefined: start at step 0); a used --out without --resume is an error. */
async function findResumePoint(
  resume: boolean | string | undefined,
  out: string,
  log: (line: string) => void,
): Promise<string | undefined> {
  const checkpoints = await listCheckpoints(out);
  const latest = checkpoints[checkpoints.length - 1];
  if (typeof resume === "string" && resume) return resolve(resume);
  if (resume) {
    if (!latest) log(`resume: no checkpoint in ${out} yet; starting from step 0`);
    return latest?.dir;
  }
  if (latest || existsSync(join(out, "metrics.jsonl")))
    throw new ConfigError(
      `${out} already holds a run (${latest ? `checkpoint-${latest.step}` : "metrics.jsonl"}); pass --resume to continue it or choose another --out`,
    );
  return undefined;
}

/** Load a checkpoint and check it was trained with this run's must-match options, model and data. */
async function loadResumable(dir: string, run: Run): Promise<CheckpointContents> {
  const resumed = await loadCheckpoint(dir, run.model.config).catch((e: Error) => {
    throw e instanceof CheckpointError ? e : new CheckpointError(`cannot load checkpoint ${dir}: ${e.message}`);
  });
  const s = resumed.state;
  const diffs = resumeMismatches({ ...(s.options as Partial<ResolvedOptions>), lora: s.lora }, run.opts);
  if (diffs.length) throw new ConfigError(`cannot resume ${dir}: it was trained with other options: ${diffs.join("; ")}`);
  if (s.model.fingerprint !== run.model.fingerprint)
    throw new ConfigError(`cannot resume ${dir}: it was trained from a different model (${s.model.source})`);
  if (s.data.key !== run.dataset.key) throw new ConfigError(`cannot resume ${dir}: it was trained on different data (${s.data.source})`);
  return resumed;
}

/** The frozen reference's log-probs for every example, computed once and cached on disk. */
function cacheReferenceLogprobs(run: Run, engine: Engine, cacheDir: string): Promise<Map<string, Float32Array>> {
  const { opts, model } = run;
  return referenceLogprobs({
    engine,
    model,
    examples: run.order.all(),
    method: opts.method,
    maxLength: opts.maxLength,
    batchSize: Math.max(opts.batchSize, 4),
    dataKey: run.dataset.key,
    cacheDir,
    log: run.log,
  });
}

/** The Trainer for the run's model, loss and optimizer (from a checkpoint: its weights, adapter and moments). */
async function createTrainer(run: Run, engine: Engine, resumed: CheckpointContents | undefined, loraSeed: number): Promise<Trainer> {
  const { opts, model, totalSteps } = run;
  const warmupSteps = Math.ceil(opts.warmupRatio * totalSteps);
  const trainer = await Trainer.create({
    engine,
    model: trainingModel({
      method: opts.method,
      config: model.config,
      weights: resumed?.weights ?? model.weights,
      referenceWeights: model.weights,
      lora: opts.lora ?? undefined,
      loraInit: resumed?.adapter,
      seed: loraSeed,
      loss: { beta: opts.beta, labelSmoothing: opts.labelSmoothing, prefFtx: opts.prefFtx },
      reference: opts.ref,
      computeDtype: opts.precision === "fp16" ? "float16" : "float32",
      recompute: opts.recompute,
      float16: engine.float16,
    }),
    lossScaling: opts.precision === "fp16" ? {} : undefined,
    lr: opts.lr,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: opts.weightDecay,
    schedule: opts.scheduler === "constant" ? { type: "constant", warmupSteps } : { type: opts.scheduler, warmupSteps, totalSteps },
    gradAccumulation: opts.gradAccum,
    clipGradNorm: opts.clip,
  });
  if (resumed) {
    const bucketSizes = trainer.buckets.map((idx) => idx.reduce((n, i) => n + trainer.trainable[i].data!.length, 0));
    const moments = relayoutMoments(model.config, resumed, DEFAULT_VOCAB_CHUNK, bucketSizes);
    await trainer.setState({ step: resumed.state.step, tensors: moments });
  }
  return trainer;
}

/** A micro-batch's feeds: token tensors, and the cached reference log-probs laid out block-major. */
function batchFeeds(run: Run, examples: Example[]): { feeds: Record<string, HostTensor>; tokens: number } {
  const { model, opts, refs } = run;
  const enc = examples.map((e) => encodeExample(model.tokenizer, e.sample, opts.method, opts.maxLength));
  const b = collate(enc, model.config, model.tokenizer.padTokenId);
  const feeds: Record<string, HostTensor> = { ...b.feeds };
  if (refs) {
    const K = BLOCKS[opts.method].length;
    const B = examples.length;
    const ref = new Float32Array(K * B);
    examples.forEach((e, j) => {
      const r = refs.get(e.key);
      if (!r) throw new Error(`internal: no reference log-probs for example ${e.key}`);
      for (let k = 0; k < K; k++) ref[k * B + j] = r[k];
    });
    feeds.ref_logps = { dtype: "float32", shape: [K * B], data: ref };
  }
  return { feeds, tokens: b.tokens };
}

/** One optimizer step over the next batchSize x gradAccum examples; its metrics row (TRL's names). */
async function trainStep(
  run: Run,
  trainer: Trainer,
  cursor: Cursor,
): Promise<{ row: MetricsRow & { tokens: number }; next: Cursor; examples: number }> {
  const { opts, order } = run;
  const { examples, start, next } = order.take(cursor, opts.batchSize * opts.gradAccum);
  const micro: Record<string, HostTensor>[] = [];
  let tokens = 0;
  for (let i = 0; i < opts.gradAccum; i++) {
    const f = batchFeeds(run, examples.slice(i * opts.batchSize, (i + 1) * opts.batchSize));
    micro.push(f.feeds);
    tokens += f.tokens;
  }
  const m = await trainer.step(opts.gradAccum === 1 ? micro[0] : micro);
  const row: MetricsRow = {
    step: m.step,
    epoch: start.epoch + next.sample / order.examplesPerEpoch,
    loss: m.loss,
    grad_norm: m.gradNorm,
    learning_rate: m.lr,
  };
  for (const k of trainer.metricNames) row[k] = m[k];
  if (opts.precision === "fp16") [row.loss_scale, row.skipped_total] = [m.loss_scale, m.skipped_total];
  row.tokens = tokens;
  row["tokens/s"] = tokens / (m.stepMs / 1000);
  row["examples/s"] = examples.length / (m.stepMs / 1000);
  row.step_ms = m.stepMs;
  return { row: row as MetricsRow & { tokens: number }, next, examples: examples.length };
}

/** Mean over examples of per-batch metric means (weights: examples per batch). */
function weightedMean(rows: { n: number; m: Record<string, number> }[]): Record<string, number> {
  const total = rows.reduce((s, r) => s + r.n, 0);
  const out: Record<string, number> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r.m)) out[k] = (out[k] ?? 0) + (v * r.n) / total;
  return out;
}

/** The loss and metrics over the validation split as an evaluation row, `eval_loss`, ... (undefined: no split). */
async function evaluateValidation(run: Run, trainer: Trainer, step: number): Promise<MetricsRow | undefined> {
  const { order, opts } = run;
  if (!order.val.length) return undefined;
  const parts: { n: number; m: Record<string, number> }[] = [];
  for (let i = 0; i < order.val.length; i += opts.batchSize) {
    const chunk = order.val.slice(i, i + opts.batchSize);
    parts.push({ n: chunk.length, m: await trainer.evaluate(batchFeeds(run, chunk).feeds) });
  }
  const row: MetricsRow = { step };
  for (const [k, v] of Object.entries(weightedMean(parts))) row[evalMetric(k)] = v;
  return row;
}

/** Save the trainable tensors, the optimizer moments and where the run stands; the checkpoint's folder. */
async function writeCheckpoint(run: Run, trainer: Trainer, at: { step: number; cursor: Cursor; rng: Mulberry32 }): Promise<string> {
  const { opts, model } = run;
  const tensors = (await trainer.getState((n) => n.startsWith("adam.") || trainer.trainable.some((p) => p.name === n))).tensors;
  const state: TrainerStateFile = {
    format: STATE_FORMAT,
    step: at.step,
    totalSteps: run.totalSteps,
    cursor: at.cursor,
    rng: { seed: at.rng.seed, state: at.rng.state },
    model: { source: model.source, fingerprint: model.fingerprint },
    data: { source: run.dataSource, key: run.dataset.key },
    lora: opts.lora,
    // the training model's default chunks (trainingModel is given no vocabChunk)
    vocabChunk: opts.lora ? undefined : DEFAULT_VOCAB_CHUNK,
    options: { ...opts, out: undefined },
    savedAt: new Date().toISOString(),
  };
  return saveCheckpoint(opts.out, { state, config: model.config, tokenizer: model.tokenizer, tensors });
}

/** plot.svg and summary.json (means over the last 10% of steps), and the closing log lines. */
async function writeSummary(
  run: Run,
  r: {
    rows: MetricsRow[];
    finalEval?: MetricsRow;
    device: string;
    steps: number;
    examples: number;
    tokens: number;
    seconds: number;
    checkpoint: string;
    resumedFrom?: number;
  },
): Promise<TrainSummary> {
  const { opts, model, dataSource } = run;
  await writeFile(join(opts.out, "plot.svg"), plotSvg(r.rows, `${opts.method} on ${model.source}: ${dataSource}`));
  const trainRows = r.rows.filter((row) => row.loss !== undefined);
  const tail = trainRows.slice(-Math.max(1, Math.ceil(trainRows.length / 10)));
  const final: Record<string, number> = {};
  for (const k of Object.keys(tail[tail.length - 1] ?? {}))
    if (!["step", "epoch", "tokens", "step_ms"].includes(k)) final[k] = tail.reduce((s, row) => s + (row[k] ?? 0), 0) / tail.length;
  const summary: TrainSummary = {
    method: opts.method,
    model: model.source,
    data: dataSource,
    device: r.device,
    steps: r.steps,
    totalSteps: run.totalSteps,
    epochs: run.totalSteps / run.stepsPerEpoch,
    examples: r.examples,
    tokens: r.tokens,
    seconds: r.seconds,
    final,
    eval: r.finalEval ? Object.fromEntries(Object.entries(r.finalEval).filter(([k]) => k !== "step")) : undefined,
    checkpoint: r.checkpoint,
    resumedFrom: r.resumedFrom,
  };
  await writeFile(join(opts.out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  const fmt = (k: string) => (final[k] !== undefined ? ` ${k.replace("rewards/", "")} ${final[k].toFixed(4)}` : "");
  run.log(
    `done: ${r.steps} steps in ${r.seconds.toFixed(1)} s (${(r.tokens / Math.max(r.seconds, 1e-9)).toFixed(0)} tokens/s); last 10%:${fmt("loss")}${fmt("rewards/accuracies")}${fmt("rewards/margins")}` +
      (r.finalEval ? `; eval loss ${r.finalEval[evalMetric("loss")].toFixed(4)}` : ""),
  );
  run.log(`checkpoint: ${r.checkpoint}; metrics: ${join(opts.out, "metrics.jsonl")}; plot: ${join(opts.out, "plot.svg")}`);
  return summary;
}
