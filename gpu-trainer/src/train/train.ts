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
import { LINEAR_MODULES, type LinearModule, type LoraConfig } from "../model/decoder.ts";
import { type Model, loadModel } from "../model/index.ts";
import { Trainer } from "../trainer.ts";
import { collate, encodeExample } from "./batch.ts";
import { CheckpointError, type TrainerStateFile, listCheckpoints, loadCheckpoint, saveCheckpoint, STATE_FORMAT } from "./checkpoint.ts";
import { DEVICES, type Device, createEngine } from "./engine.ts";
import { type ReferenceMode, trainingModel } from "./graphs.ts";
import { BLOCKS, METHODS, type Method, needsReference } from "./losses.ts";
import { referenceLogprobs } from "./refcache.ts";
import { MetricsLog, type MetricsRow, Progress, type ProgressMode, plotSvg } from "./report.ts";

/** A mistake in the options or their files (the CLI prints it as one line). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A run that cannot go on (the loss diverged): reported as one line, like a ConfigError. */
export class TrainingError extends Error {
  override name = "TrainingError";
}

export type Scheduler = "cosine" | "linear" | "constant";

export interface TrainOptions {
  /** `tiny:<name>`, a model folder, or a loaded Model. */
  model: string | Model;
  /** `api://host[:port]/datasets/<name>[@version]`, a JSONL file, or an opened Dataset. */
  data: string | Dataset;
  method: Method;
  /** Output folder: checkpoints, metrics.jsonl, plot.svg, summary.json. */
  out: string;
  beta?: number;
  labelSmoothing?: number;
  prefFtx?: number;
  lr?: number;
  epochs?: number;
  /** Stop after this many optimizer steps (overrides epochs). */
  maxSteps?: number;
  /** Examples per micro-batch (quadruples for IOPO: 4x this many sequences). */
  batchSize?: number;
  gradAccum?: number;
  /** Tokens per sequence (prompt + response). */
  maxLength?: number;
  warmupRatio?: number;
  scheduler?: Scheduler;
  weightDecay?: number;
  /** Max global gradient norm; 0 disables clipping. */
  clip?: number;
  /** LoRA (default rank 8, alpha 16, every linear layer), or full fine-tuning with `full: true`. */
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: LinearModule[] | "all-linear";
  full?: boolean;
  /** Reference log-probs: computed once and cached (default), or in the graph every step. */
  ref?: ReferenceMode;
  device?: Device;
  /** An engine to use instead of `device` (not closed by train). */
  engine?: Engine;
  seed?: number;
  /** Checkpoint every n steps (0: only at the end). */
  saveEvery?: number;
  /** Evaluate on the validation split every n steps (0: only at the end, when there is one). */
  evalEvery?: number;
  /** Records held out for validation. */
  valSize?: number;
  /** Continue from the latest checkpoint in `out` (true) or from a checkpoint folder. */
  resume?: boolean | string;
  apiKey?: string;
  cacheDir?: string;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  progress?: ProgressMode | "auto";
  /** Called with every metrics row (training steps and evaluations). */
  onMetrics?: (row: MetricsRow) => void;
}

/** Option names, as the config file and the CLI spell them (kebab-case). */
export const OPTION_NAMES: Record<string, keyof TrainOptions> = {
  model: "model",
  data: "data",
  method: "method",
  out: "out",
  beta: "beta",
  "label-smoothing": "labelSmoothing",
  "pref-ftx": "prefFtx",
  lr: "lr",
  epochs: "epochs",
  "max-steps": "maxSteps",
  "batch-size": "batchSize",
  "grad-accum": "gradAccum",
  "max-length": "maxLength",
  "warmup-ratio": "warmupRatio",
  scheduler: "scheduler",
  "weight-decay": "weightDecay",
  clip: "clip",
  "lora-rank": "loraRank",
  "lora-alpha": "loraAlpha",
  "lora-targets": "loraTargets",
  full: "full",
  ref: "ref",
  device: "device",
  seed: "seed",
  "save-every": "saveEvery",
  "eval-every": "evalEvery",
  "val-size": "valSize",
  resume: "resume",
  "api-key": "apiKey",
  "cache-dir": "cacheDir",
};

/** Defaults: the IOPO paper's released configuration where it has one. */
export const DEFAULTS = {
  beta: 0.1,
  labelSmoothing: 0,
  prefFtx: 0,
  lr: 5e-6,
  sftLr: 1e-4,
  epochs: 3,
  batchSize: 1,
  gradAccum: 8,
  maxLength: 1024,
  warmupRatio: 0.1,
  scheduler: "cosine" as Scheduler,
  weightDecay: 0,
  clip: 1,
  loraRank: 8,
  loraAlpha: 16,
  ref: "cache" as ReferenceMode,
  device: "auto" as Device,
  seed: 0,
};

export interface ResolvedOptions {
  method: Method;
  out: string;
  beta: number;
  labelSmoothing: number;
  prefFtx: number;
  lr: number;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  gradAccum: number;
  maxLength: number;
  warmupRatio: number;
  scheduler: Scheduler;
  weightDecay: number;
  clip: number;
  lora: LoraConfig | null;
  ref: ReferenceMode;
  device: Device;
  seed: number;
  saveEvery: number;
  evalEvery: number;
  valSize: number;
}

const isInt = (v: unknown, min: number) => typeof v === "number" && Number.isInteger(v) && v >= min;
const isNum = (v: unknown, min: number) => typeof v === "number" && Number.isFinite(v) && v >= min;

export function parseLoraTargets(v: string | readonly string[] | undefined): LinearModule[] {
  if (v === undefined || v === "all-linear" || v === "all") return [...LINEAR_MODULES];
  const list = (typeof v === "string" ? v.split(",") : v).map((s) => s.trim()).filter(Boolean);
  for (const t of list)
    if (!(LINEAR_MODULES as readonly string[]).includes(t))
      throw new ConfigError(`unknown LoRA target "${t}" (choose from ${LINEAR_MODULES.join(", ")} or all-linear)`);
  if (!list.length) throw new ConfigError("--lora-targets is empty");
  return list as LinearModule[];
}

/** Validate options and fill in defaults; every problem is a ConfigError naming the option. */
export function resolveOptions(o: TrainOptions): ResolvedOptions {
  const bad = (name: string, want: string, v: unknown) => new ConfigError(`--${name} must be ${want}, got ${JSON.stringify(v)}`);
  if (!(METHODS as readonly string[]).includes(o.method)) throw bad("method", METHODS.join("|"), o.method);
  if (!o.out) throw new ConfigError("--out is required");
  const num = (name: string, v: number | undefined, def: number, min: number, int = false) => {
    if (v === undefined) return def;
    if (!(int ? isInt(v, min) : isNum(v, min))) throw bad(name, `${int ? "an integer" : "a number"} >= ${min}`, v);
    return v;
  };
  const full = o.full ?? false;
  const r: ResolvedOptions = {
    method: o.method,
    out: resolve(o.out),
    beta: num("beta", o.beta, DEFAULTS.beta, 0),
    labelSmoothing: num("label-smoothing", o.labelSmoothing, DEFAULTS.labelSmoothing, 0),
    prefFtx: num("pref-ftx", o.prefFtx, DEFAULTS.prefFtx, 0),
    lr: num("lr", o.lr, o.method === "sft" ? DEFAULTS.sftLr : DEFAULTS.lr, 0),
    epochs: num("epochs", o.epochs, DEFAULTS.epochs, 0),
    maxSteps: o.maxSteps === undefined ? undefined : num("max-steps", o.maxSteps, 0, 1, true),
    batchSize: num("batch-size", o.batchSize, DEFAULTS.batchSize, 1, true),
    gradAccum: num("grad-accum", o.gradAccum, DEFAULTS.gradAccum, 1, true),
    maxLength: num("max-length", o.maxLength, DEFAULTS.maxLength, 2, true),
    warmupRatio: num("warmup-ratio", o.warmupRatio, DEFAULTS.warmupRatio, 0),
    scheduler: o.scheduler ?? DEFAULTS.scheduler,
    weightDecay: num("weight-decay", o.weightDecay, DEFAULTS.weightDecay, 0),
    clip: num("clip", o.clip, DEFAULTS.clip, 0),
    lora: full
      ? null
      : {
          rank: num("lora-rank", o.loraRank, DEFAULTS.loraRank, 1, true),
          alpha: num("lora-alpha", o.loraAlpha, DEFAULTS.loraAlpha, 0),
          targets: parseLoraTargets(o.loraTargets as string | string[] | undefined),
        },
    ref: o.ref ?? DEFAULTS.ref,
    device: o.device ?? DEFAULTS.device,
    seed: num("seed", o.seed, DEFAULTS.seed, 0, true),
    saveEvery: num("save-every", o.saveEvery, 0, 0, true),
    evalEvery: num("eval-every", o.evalEvery, 0, 0, true),
    valSize: num("val-size", o.valSize, 0, 0, true),
  };
  if (r.labelSmoothing >= 0.5) throw bad("label-smoothing", "in [0, 0.5)", r.labelSmoothing);
  if (r.warmupRatio > 1) throw bad("warmup-ratio", "in [0, 1]", r.warmupRatio);
  if (!["cosine", "linear", "constant"].includes(r.scheduler)) throw bad("scheduler", "cosine|linear|constant", r.scheduler);
  if (!["cache", "on-the-fly"].includes(r.ref)) throw bad("ref", "cache|on-the-fly", r.ref);
  if (!(DEVICES as readonly string[]).includes(r.device)) throw bad("device", DEVICES.join("|"), r.device);
  if (o.full && (o.loraRank !== undefined || o.loraTargets !== undefined))
    throw new ConfigError("--full and --lora-* options exclude each other");
  return r;
}

/** The options a resumed run must share with the run that wrote the checkpoint. */
const MUST_MATCH: (keyof ResolvedOptions)[] = [
  "method",
  "batchSize",
  "gradAccum",
  "maxLength",
  "seed",
  "valSize",
  "ref",
  "scheduler",
  "lr",
  "beta",
  "labelSmoothing",
  "prefFtx",
  "weightDecay",
  "clip",
  "warmupRatio",
];

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
    throw new ConfigError(
      `${opts.out} already holds a run (${checkpoints.length ? `checkpoint-${checkpoints[checkpoints.length - 1].step}` : "metrics.jsonl"}); pass --resume to continue it or choose another --out`,
    );

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
    throw new ConfigError(
      `one optimizer step needs ${perStep} examples (--batch-size x --grad-accum) but the training split has ${order.examplesPerEpoch}`,
    );
  const totalSteps = opts.maxSteps ?? Math.max(1, Math.ceil(opts.epochs * stepsPerEpoch));

  const resumed = resumeDir
    ? await loadCheckpoint(resumeDir, model.config).catch((e: Error) => {
        throw e instanceof CheckpointError ? e : new CheckpointError(`cannot load checkpoint ${resumeDir}: ${e.message}`);
      })
    : undefined;
  if (resumed) {
    const s = resumed.state;
    const before = s.options as Partial<ResolvedOptions>;
    const diffs = MUST_MATCH.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(opts[k]));
    if (JSON.stringify(s.lora) !== JSON.stringify(opts.lora)) diffs.push("lora" as keyof ResolvedOptions);
    if (diffs.length) throw new ConfigError(`cannot resume ${resumeDir}: it was trained with different ${diffs.join(", ")}`);
    if (s.model.fingerprint !== model.fingerprint)
      throw new ConfigError(`cannot resume ${resumeDir}: it was trained from a different model (${s.model.source})`);
    if (s.data.key !== dataset.key)
      throw new ConfigError(`cannot resume ${resumeDir}: it was trained on different data (${s.data.source})`);
  }

  await mkdir(opts.out, { recursive: true });
  const engine = o.engine ?? (await createEngine(opts.device, log));
  // the run's RNG (LoRA init): its state is checkpointed with the rest
  const rng = new Mulberry32(opts.seed, resumed?.state.rng.state);
  const loraSeed = resumed ? 0 : rng.fork();
  const metricsLog = new MetricsLog(join(opts.out, "metrics.jsonl"));
  const history = await metricsLog.truncateAfter(resumed?.state.step ?? 0);

  log(
    `iopo-train: ${method} on ${model.source} (${opts.lora ? `LoRA r=${opts.lora.rank} alpha=${opts.lora.alpha} on ${opts.lora.targets.join(",")}` : "full fine-tuning"}), ${engine.description}`,
  );
  log(
    `data: ${order.examplesPerEpoch} training examples${opts.valSize ? ` + ${order.val.length} validation` : ""}; ${stepsPerEpoch} steps/epoch of ${opts.batchSize} x ${opts.gradAccum}; ${totalSteps} steps`,
  );

  let trainer: Trainer | undefined;
  try {
    // ---- reference log-probs ----
    let refs: Map<string, Float32Array> | undefined;
    if (needsReference(method) && opts.ref === "cache")
      refs = await referenceLogprobs({
        engine,
        model,
        examples: order.all(),
        method,
        maxLength: opts.maxLength,
        batchSize: Math.max(opts.batchSize, 4),
        dataKey: dataset.key,
        cacheDir,
        log,
      });

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
        throw new TrainingError(
          `the loss or gradient norm is not finite at step ${m.step} (loss ${m.loss}, grad_norm ${m.gradNorm}): lower --lr or check the data; the last checkpoint is ${lastCheckpoint || "none"}`,
        );
      rows.push(row);
      await emit(row);
      progress.step(row);
      if (opts.evalEvery && m.step % opts.evalEvery === 0 && m.step < totalSteps) {
        const e = await evaluate(m.step);
        if (e) {
          evals.push(e);
          await emit(e);
          progress.note(
            `eval at step ${m.step}: loss ${e["eval/loss"].toFixed(4)}${e["eval/rewards/accuracies"] !== undefined ? `, accuracy ${e["eval/rewards/accuracies"].toFixed(3)}` : ""}`,
          );
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
