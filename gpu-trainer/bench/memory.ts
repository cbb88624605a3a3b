/**
 * `iopo-train estimate` against a measurement: the peak memory of training steps on
 * onnxruntime-node's CPU engine, where device memory is the process's own.
 *
 *   npx tsx bench/memory.ts                      # the default configurations, one process each
 *   npx tsx bench/memory.ts --shape small --mode lora --batch 1 --T 256 [--recompute] [--vocab-chunk n] [--half-base]
 *
 * `--half-base`: the random weights as a 16-bit checkpoint holds them (fp16 bits; config.json's
 * torch_dtype float16), so a LoRA base is stored fp16 and cast to fp32 at each use.
 *
 * How it measures: each configuration runs in a fresh process, with ORT's CPU arena and memory
 * pattern off (every tensor is its own allocation, freed when dead) and glibc told to map every
 * allocation of 1 MiB or more on its own (MALLOC_MMAP_THRESHOLD_), so that a freed tensor leaves
 * the resident set at once: without it, heap fragmentation kept up to 1.5 GB more resident in the
 * recomputing runs. The step's memory is the process's peak resident set (getrusage maxrss) over
 * two steps minus its resident set just before the first step (weights, moments and sessions in
 * place); the estimate's counterpart is what it counts for the step itself: activations, the
 * logits chunk, the gradients, and the new weights and moments the update writes.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { OrtEngine, Trainer, toHost } from "@iopo/graph";
import { LINEAR_MODULES } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { estimateMemory } from "../src/train/estimate.ts";
import { trainingModel } from "../src/train/graphs.ts";
import { SHAPES, benchBatch, shapeConfig } from "./gpu.ts";

interface Config {
  shape: string;
  mode: "full" | "lora";
  batch: number;
  T: number;
  recompute: boolean;
  vocabChunk?: number;
  halfBase?: boolean;
}

/** Shapes the 2-core dev box measures in seconds: a vocabulary-heavy one and a layer-heavy one. */
const DEFAULT_RUNS: Config[] = [
  { shape: "small", mode: "lora", batch: 2, T: 256, recompute: false, vocabChunk: 0 },
  { shape: "small", mode: "lora", batch: 2, T: 256, recompute: false },
  { shape: "small", mode: "lora", batch: 2, T: 256, recompute: true },
  { shape: "mid", mode: "lora", batch: 1, T: 512, recompute: false },
  { shape: "mid", mode: "lora", batch: 1, T: 512, recompute: false, halfBase: true },
  { shape: "mid", mode: "lora", batch: 1, T: 512, recompute: true },
  { shape: "mid", mode: "full", batch: 1, T: 512, recompute: false },
];

const MiB = 2 ** 20;

async function measure(cfg: Config) {
  const ort = (await import("onnxruntime-node")) as unknown as ConstructorParameters<typeof OrtEngine>[0];
  const engine = new OrtEngine(ort, {
    kind: "node-cpu",
    description: "onnxruntime-node CPU, no arena",
    sessionOptions: { executionProviders: ["cpu"], enableCpuMemArena: false, enableMemPattern: false },
  });
  const s = { ...SHAPES[cfg.shape], B: cfg.batch, T: cfg.T };
  const fp32Config = shapeConfig(s);
  const c = cfg.halfBase ? { ...fp32Config, raw: { ...fp32Config.raw, torch_dtype: "float16" } } : fp32Config;
  const weights = randomWeights(c, 0);
  if (cfg.halfBase) for (const [k, w] of weights) weights.set(k, toHost("float16", w) as Uint16Array);
  const lora = cfg.mode === "lora" ? { rank: 8, alpha: 16, targets: [...LINEAR_MODULES] } : undefined;
  const feeds = benchBatch(s, c);
  const rows = feeds.ids.shape[0];
  const tr = await Trainer.create({
    engine,
    model: trainingModel({
      method: "iopo",
      config: c,
      weights,
      lora,
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
      recompute: cfg.recompute,
      vocabChunk: cfg.vocabChunk,
    }),
    lr: 1e-4,
  });
  const batch = { ...feeds, ref_logps: { dtype: "float32" as const, shape: [rows], data: new Float32Array(rows).fill(-100) } };
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 2; i++) await tr.step(batch);
  const peak = process.resourceUsage().maxRSS * 1024;
  await tr.dispose();
  const est = estimateMemory(c, {
    method: "iopo",
    lora: lora ?? null,
    ref: "cache",
    batchSize: cfg.batch,
    gradAccum: 1,
    maxLength: cfg.T,
    precision: "fp32",
    recompute: cfg.recompute,
    vocabChunk: cfg.vocabChunk,
  });
  const p = est.parts;
  const stepParts = p.activations + p.logitsChunk + p.gradients + p.trainable / 2 + p.moments / 2;
  return { ...cfg, measuredStepMiB: (peak - before) / MiB, estimatedStepMiB: stepParts / MiB, estimatedTotalMiB: est.totalBytes / MiB };
}

async function main(argv: string[]) {
  const arg = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (arg("--shape")) {
    const r = await measure({
      shape: arg("--shape")!,
      mode: (arg("--mode") ?? "lora") as Config["mode"],
      batch: Number(arg("--batch") ?? 1),
      T: Number(arg("--T") ?? 256),
      recompute: argv.includes("--recompute"),
      vocabChunk: arg("--vocab-chunk") === undefined ? undefined : Number(arg("--vocab-chunk")),
      halfBase: argv.includes("--half-base"),
    });
    console.log(JSON.stringify(r));
    return;
  }
  console.log("configuration                               measured step   estimated step   ratio");
  for (const cfg of DEFAULT_RUNS) {
    const args = ["--shape", cfg.shape, "--mode", cfg.mode, "--batch", String(cfg.batch), "--T", String(cfg.T)];
    if (cfg.recompute) args.push("--recompute");
    if (cfg.vocabChunk !== undefined) args.push("--vocab-chunk", String(cfg.vocabChunk));
    if (cfg.halfBase) args.push("--half-base");
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
      encoding: "utf8",
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: String(2 ** 20) },
    });
    const r = JSON.parse(out.trim().split("\n").pop()!);
    const name = `${r.shape} ${r.mode} B${r.batch} T${r.T}${r.recompute ? " recompute" : ""}${r.vocabChunk === 0 ? " whole logits" : ""}${r.halfBase ? " fp16 base" : ""}`;
    console.log(
      `${name.padEnd(44)}${r.measuredStepMiB.toFixed(0).padStart(10)} MiB${r.estimatedStepMiB.toFixed(0).padStart(13)} MiB${(r.measuredStepMiB / r.estimatedStepMiB).toFixed(2).padStart(8)}`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
  process.exit(0);
}
