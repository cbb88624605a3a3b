/**
 * The demo: does IOPO make a model follow complex instructions better than DPO and SFT, measured by
 * our own judge? Per seed:
 *
 *  1. the synthetic corpus (demo/synthetic.ts) goes into the API as datasets: `-train`
 *     (sft records) and `-eval` (held-out instruction records: one constraint = IF-S, 2-5 = IF-M);
 *  2. a model is trained with SFT on the train version (from scratch for a tiny model; skipped in
 *     the scale config, which starts from the given checkpoint);
 *  3. the API's rule-based builder job turns the train records into IOPO quadruples (`-iopo`), and
 *     three arms start from the same SFT checkpoint on that one version: IOPO (iopo format), DPO
 *     (dpo format: (x1: y1 > y2), (x2: y2 > y1)) and SFT (sft format: (x1, y1), (x2, y2)), at an
 *     equal token budget: the same sequences per step and the same number of steps (IOPO's: its
 *     epochs over the quadruples; a quadruple is 4 sequences for IOPO and DPO, 2 for SFT, so SFT
 *     covers twice the epochs);
 *  4. every arm, the SFT start and the untrained base are evaluated by the judge on the held-out set
 *     (greedy decoding with the KV cache), and the results are aggregated over seeds.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generateDemoCorpus } from "./synthetic.ts";
import {
  type Device,
  type Engine,
  type EvalMetrics,
  type MetricsRow,
  type TrainOptions,
  type TrainSummary,
  countParams,
  createEngineFor,
  evaluateModel,
  loadBenchmark,
  loadModel,
  train,
} from "@iopo/gpu-trainer";
import { DemoApi } from "./api.ts";

export const ARMS = ["sft", "dpo", "iopo"] as const;
export type Arm = (typeof ARMS)[number];
/** Rows of the results table: the untrained model, the SFT start, and the three arms. */
export const ROWS = ["base", "start", ...ARMS] as const;
export type Row = (typeof ROWS)[number];

export interface StageConfig {
  lr: number;
  /** Examples per micro-batch (sft stage); arms derive theirs from seqsPerStep. */
  batchSize?: number;
  gradAccum?: number;
  epochs: number;
  /** Cap on optimizer steps (smoke runs). */
  maxSteps?: number;
  warmupRatio?: number;
  weightDecay?: number;
  scheduler?: "cosine" | "linear" | "constant";
  /** Full fine-tuning (tiny models) or LoRA. */
  full?: boolean;
  loraRank?: number;
  loraAlpha?: number;
}

export interface DemoConfig {
  name: string;
  /** `tiny:<name>` (trained from scratch) or a model folder. */
  model: string;
  device: Device;
  seeds: number[];
  corpus: { perTopic: number; evalPerTopic: number };
  /** Tokens per training sequence. */
  maxLength: number;
  /** SFT on the corpus before the arms; null: the arms start from `model` itself. */
  sft: StageConfig | null;
  quadruples: { ops?: string[]; batchSize?: number };
  arms: StageConfig & {
    /** Sequences per optimizer step, the same for every arm (examples: IOPO /4, DPO /2, SFT /1, over gradAccum micro-batches). */
    seqsPerStep: number;
    beta: number;
    /** SFT term weight in DPO and IOPO (0: none). */
    prefFtx?: number;
    /** Learning rate of the SFT arm (default: lr). */
    sftLr?: number;
  };
  eval: { maxNewTokens: number; batchSize: number; limit?: number };
}

export interface TrainRecord {
  summary: TrainSummary;
  checkpoint: string;
  metrics: MetricsRow[];
}

export interface SeedResult {
  seed: number;
  corpus: { train: number; evalSingle: number; evalMulti: number };
  quadruples: { produced: number; byOp: Record<string, number>; skipped: Record<string, number> };
  sft?: TrainRecord;
  arms: Partial<Record<Arm, TrainRecord>>;
  eval: Partial<Record<Row, { metrics: EvalMetrics; model: string; seconds: number; completionTokens: number }>>;
}

export interface DemoResult {
  config: DemoConfig;
  api: string;
  device: string;
  model: { source: string; params: number };
  seeds: SeedResult[];
  seconds: number;
  startedAt: string;
  /** The command that produced it (set by demo/run.ts). */
  command?: string;
}

export interface RunOptions {
  config: DemoConfig;
  /** The API: a base URL, or undefined to start one (scripts/lib/server.mjs) for the run. */
  judge?: string;
  key?: string;
  /** Working folder: checkpoints, metrics, eval outputs (demo/out by default). */
  out: string;
  /** Keep finished stages found in `out` (their summary.json) instead of starting over. */
  resume?: boolean;
  /** Dataset name prefix in the API. */
  prefix?: string;
  log?: (line: string) => void;
}

const apiDataUrl = (base: string, name: string, version: number) =>
  `${base.replace(/^http(s?):\/\//, (_m, s: string) => (s ? "apis://" : "api://"))}/datasets/${name}@${version}`;

async function readMetrics(dir: string): Promise<MetricsRow[]> {
  const p = join(dir, "metrics.jsonl");
  if (!existsSync(p)) return [];
  return (await readFile(p, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricsRow);
}

/** Train one stage, or reuse a finished one (its summary.json) when resuming. */
async function stage(dir: string, resume: boolean, opts: Omit<TrainOptions, "out">): Promise<TrainRecord> {
  const summaryFile = join(dir, "summary.json");
  if (resume && existsSync(summaryFile)) {
    const summary = JSON.parse(await readFile(summaryFile, "utf8")) as TrainSummary;
    return { summary, checkpoint: summary.checkpoint, metrics: await readMetrics(dir) };
  }
  await rm(dir, { recursive: true, force: true });
  const r = await train({ ...opts, out: dir });
  return { summary: r.summary, checkpoint: r.checkpoint, metrics: [...r.metrics, ...r.evals] };
}

function stageOptions(s: StageConfig): Partial<TrainOptions> {
  const o: Partial<TrainOptions> = {
    lr: s.lr,
    epochs: s.epochs,
    gradAccum: s.gradAccum ?? 1,
    warmupRatio: s.warmupRatio ?? 0.1,
    weightDecay: s.weightDecay ?? 0,
    scheduler: s.scheduler ?? "cosine",
  };
  if (s.maxSteps !== undefined) o.maxSteps = s.maxSteps;
  if (s.full) o.full = true;
  else {
    if (s.loraRank !== undefined) o.loraRank = s.loraRank;
    if (s.loraAlpha !== undefined) o.loraAlpha = s.loraAlpha;
  }
  return o;
}

export async function runDemo(o: RunOptions): Promise<DemoResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const c = o.config;
  const out = resolve(o.out);
  const prefix = o.prefix ?? `demo-${c.name}`;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  if (!o.resume) await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });

  let server: { base: string; adminToken: string; stop(): Promise<void> } | undefined;
  let base = o.judge;
  let key = o.key;
  if (!base) {
    log("demo: starting the API (its own port and D1)...");
    // @ts-expect-error -- plain ESM helper shared with the benchmarks and tests
    const { startServer } = (await import("../scripts/lib/server.mjs")) as {
      startServer(): Promise<{ base: string; adminToken: string; stop(): Promise<void> }>;
    };
    server = await startServer();
    base = server.base;
    key = server.adminToken;
  }
  const api = new DemoApi(base, { key });
  const engine: Engine = await createEngineFor(c.device, log);
  const cacheDir = join(out, "cache");
  log(`demo ${c.name}: ${c.model} on ${engine.description}; API ${base}; seeds ${c.seeds.join(", ")}`);
  try {
    const baseModel = await loadModel(c.model, { seed: c.seeds[0] });
    const seeds: SeedResult[] = [];
    for (const seed of c.seeds) seeds.push(await runSeed(seed));
    const result: DemoResult = {
      config: c,
      api: base,
      device: engine.description,
      model: { source: baseModel.source, params: countParams(baseModel.config) },
      seeds,
      seconds: (performance.now() - t0) / 1000,
      startedAt,
    };
    await writeFile(join(out, "results.json"), JSON.stringify(result, null, 2) + "\n");
    return result;

    async function runSeed(seed: number): Promise<SeedResult> {
      const dir = join(out, `seed${seed}`);
      const names = { train: `${prefix}-s${seed}-train`, eval: `${prefix}-s${seed}-eval`, quads: `${prefix}-s${seed}-iopo` };
      log(`\n== seed ${seed} ==`);
      // 1. corpus -> datasets
      const corpus = generateDemoCorpus(seed, c.corpus.perTopic, c.corpus.evalPerTopic);
      await api.ensureDataset(names.train, { description: `Synthetic demo corpus (seed ${seed}): judge-confirmed sft records` });
      await api.addAllRecords(names.train, corpus.train);
      const vTrain = await api.freeze(names.train, "demo train split");
      await api.ensureDataset(names.eval, {
        description: `Synthetic demo held-out set (seed ${seed}): IF-S (1 constraint) and IF-M (2-5)`,
      });
      await api.addAllRecords(names.eval, [...corpus.evalSingle, ...corpus.evalMulti]);
      log(
        `corpus: ${corpus.train.length} sft records (${names.train}@${vTrain.version}); held out ${corpus.evalSingle.length} IF-S + ${corpus.evalMulti.length} IF-M (${names.eval})`,
      );
      const common = {
        device: c.device,
        engine,
        seed,
        maxLength: c.maxLength,
        cacheDir,
        progress: "none" as const,
        log: (l: string) => log(`  ${l}`),
      };

      // 2. SFT (from scratch for tiny models)
      let sft: TrainRecord | undefined;
      if (c.sft) {
        log(`sft on ${names.train} from ${c.model}`);
        sft = await stage(join(dir, "sft-start"), !!o.resume, {
          ...common,
          ...stageOptions(c.sft),
          model: c.model,
          data: apiDataUrl(base!, names.train, vTrain.version),
          method: "sft",
          batchSize: c.sft.batchSize ?? 16,
        });
      }
      const start = sft?.checkpoint ?? c.model;

      // 3. quadruples through the API's builder job, frozen as one version
      log(`quadruples: builder job ${names.train} -> ${names.quads}`);
      const job = await api.buildQuadruples(
        names.train,
        names.quads,
        { seed, ops: c.quadruples.ops, batchSize: c.quadruples.batchSize },
        (l) => log(l),
      );
      const vQ = await api.freeze(names.quads, "demo quadruples");
      const quads = { produced: vQ.record_count, byOp: job.progress.by_op ?? {}, skipped: job.progress.skipped ?? {} };
      log(`quadruples: ${vQ.record_count} (${names.quads}@${vQ.version}); by op ${JSON.stringify(quads.byOp)}`);

      // the arms, from the same start, on the same version, at an equal token budget
      const arms: Partial<Record<Arm, TrainRecord>> = {};
      const a = c.arms;
      const perExample: Record<Arm, number> = { iopo: 4, dpo: 2, sft: 1 };
      const epochFactor: Record<Arm, number> = { iopo: 1, dpo: 1, sft: 2 };
      // IOPO first: its step count (epochs over the quadruples) is every arm's budget
      let budget: number | undefined;
      for (const arm of ["iopo", "dpo", "sft"] as const) {
        const accum = a.gradAccum ?? 1;
        const batchSize = a.seqsPerStep / (perExample[arm] * accum);
        if (!Number.isInteger(batchSize) || batchSize < 1)
          throw new Error(`arms.seqsPerStep (${a.seqsPerStep}) must be a multiple of 4 x gradAccum (${accum})`);
        log(
          `${arm}: ${batchSize} example(s) x ${accum} micro-batch(es) = ${a.seqsPerStep} sequences per step, ${a.epochs * epochFactor[arm]} epoch(s)`,
        );
        arms[arm] = await stage(join(dir, arm), !!o.resume, {
          ...common,
          ...stageOptions(a),
          model: start,
          data: apiDataUrl(base!, names.quads, vQ.version),
          method: arm,
          batchSize,
          epochs: a.epochs * epochFactor[arm],
          ...(budget !== undefined ? { maxSteps: budget } : a.maxSteps !== undefined ? { maxSteps: a.maxSteps } : {}),
          lr: arm === "sft" ? (a.sftLr ?? a.lr) : a.lr,
          ...(arm !== "sft" ? { beta: a.beta, prefFtx: a.prefFtx ?? 0 } : {}),
          seed,
        });
        budget ??= arms[arm]!.summary.steps;
      }

      // 4. evaluation by the judge on the held-out set
      const bench = await loadBenchmark(api, names.eval, { limit: c.eval.limit });
      const models: [Row, string][] = [
        ["base", c.model],
        ...(sft ? ([["start", sft.checkpoint]] as [Row, string][]) : []),
        ...ARMS.map((arm) => [arm, arms[arm]!.checkpoint] as [Row, string]),
      ];
      const evals: SeedResult["eval"] = {};
      for (const [row, model] of models) {
        const r = await evaluateModel({
          model,
          modelSeed: seed,
          benchmark: names.eval,
          judge: base!,
          key,
          prepared: bench,
          engine,
          out: join(dir, "eval", row),
          maxNewTokens: c.eval.maxNewTokens,
          batchSize: c.eval.batchSize,
          log: () => {},
        });
        evals[row] = {
          metrics: r.metrics,
          model: r.model,
          seconds: r.seconds.generate + r.seconds.judge,
          completionTokens: r.completionTokens,
        };
        const m = r.metrics;
        const p = (x?: { accuracy: number }) => (x ? (100 * x.accuracy).toFixed(1) : "-");
        log(
          `eval ${row.padEnd(5)}: IF-S ${p(m.if_s)}  IF-M ${p(m.if_m)}  prompt S/L ${p(m.prompt_strict)}/${p(m.prompt_loose)}  instr S/L ${p(m.instruction_strict)}/${p(m.instruction_loose)}  (${r.seconds.generate.toFixed(1)} s)`,
        );
      }
      return {
        seed,
        corpus: { train: corpus.train.length, evalSingle: corpus.evalSingle.length, evalMulti: corpus.evalMulti.length },
        quadruples: quads,
        sft,
        arms,
        eval: evals,
      };
    }
  } finally {
    await engine.close();
    await server?.stop();
  }
}
