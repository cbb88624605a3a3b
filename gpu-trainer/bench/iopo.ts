/**
 * Benchmark: IOPO training throughput (quadruples/s and tokens/s) for two built-in configs on each
 * engine, one optimizer step = forward + backward of 4 sequences per quadruple (policy only: the
 * reference log-probs come from the cache), global-norm clip and AdamW, fused in one session.
 * Each engine runs in its own process.
 *
 *   npm run bench -w gpu-trainer          # this after the block/MatMul benchmark
 *   npx tsx bench/iopo.ts --quick         # tiny:llama only
 *   npx tsx bench/iopo.ts --engines wasm2,node,webgpu
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { type Engine, toyModels, Trainer } from "@iopo/graph";
import { countParams } from "../src/model/config.ts";
import { LINEAR_MODULES } from "../src/model/decoder.ts";
import { createTinyModel } from "../src/model/index.ts";
import { type EncodedExample, collate } from "../src/train/batch.ts";
import { trainingModel } from "../src/train/graphs.ts";
import { type BenchEngineId, TRAINING_BENCH_ENGINES, makeBenchEngine, parseBenchEngines } from "./engines.ts";
const { lcg } = toyModels;

/** Engines run when --engines is not given. */
const DEFAULT_ENGINES: BenchEngineId[] = ["wasm2", "node", "webgpu"];

interface Workload {
  model: "llama" | "small";
  /** Quadruples per step. */
  B: number;
  prompt: number;
  response: number;
  lora: boolean;
}
const WORKLOADS: Workload[] = [
  { model: "llama", B: 2, prompt: 48, response: 16, lora: true },
  { model: "small", B: 2, prompt: 96, response: 32, lora: true },
  { model: "small", B: 2, prompt: 96, response: 32, lora: false },
];

interface Row {
  engine: string;
  what: string;
  ms: number;
  medianMs?: number;
  quadsPerS: number;
  tokensPerS: number;
  note?: string;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function bench(e: Engine, w: Workload, steps: number): Promise<Row> {
  const m = createTinyModel(w.model, 0);
  const r = lcg(7);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(r() * (m.config.vocabSize - 3)));
  // 4 rows per quadruple (x1 and x2 share length, so do the responses): no padding
  const examples: EncodedExample[] = Array.from({ length: w.B }, (_, i) => ({
    id: `q${i}`,
    rows: Array.from({ length: 4 }, () => ({ prompt: ids(w.prompt), response: ids(w.response) })),
  }));
  const batch = collate(examples, m.config, 0);
  const ref = Float32Array.from({ length: 4 * w.B }, () => -w.response * Math.log(m.config.vocabSize));
  const feeds = { ...batch.feeds, ref_logps: { dtype: "float32" as const, shape: [4 * w.B], data: ref } };
  const tr = await Trainer.create({
    engine: e,
    model: trainingModel({
      method: "iopo",
      config: m.config,
      weights: m.weights,
      lora: w.lora ? { rank: 8, alpha: 16, targets: [...LINEAR_MODULES] } : undefined,
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
    }),
    lr: 1e-4,
  });
  await tr.step(feeds); // warm-up: compilation, allocation
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await tr.step(feeds);
    times.push(performance.now() - t0);
  }
  const trainable = tr.trainable.reduce((k, p) => k + (p.data?.length ?? 0), 0);
  await tr.dispose();
  const ms = Math.min(...times);
  const tokens = 4 * w.B * (w.prompt + w.response);
  return {
    engine: e.description,
    what: `tiny:${w.model} (${(countParams(m.config) / 1e6).toFixed(2)}M, ${w.lora ? `LoRA r8 ${(trainable / 1e6).toFixed(2)}M trainable` : "full"}) B${w.B} quads x4 T${w.prompt + w.response}`,
    ms,
    medianMs: median(times),
    quadsPerS: (w.B * 1000) / ms,
    tokensPerS: (tokens * 1000) / ms,
  };
}

async function child(id: BenchEngineId, quick: boolean) {
  const keep = setInterval(() => {}, 1000);
  let e: Engine;
  try {
    e = await makeBenchEngine(id);
  } catch (err) {
    console.log(
      `RESULT ${JSON.stringify({ engine: id, what: "unavailable", ms: NaN, quadsPerS: NaN, tokensPerS: NaN, note: (err as Error).message })}`,
    );
    clearInterval(keep);
    process.exit(0);
  }
  const soft = e.software;
  const loads = quick || soft ? WORKLOADS.slice(0, 1) : WORKLOADS;
  for (const w of loads) {
    const r = await bench(e, w, soft ? 2 : w.model === "small" ? 4 : 8);
    console.log(`RESULT ${JSON.stringify({ ...r, note: soft ? "software adapter" : undefined })}`);
  }
  await e.close();
  clearInterval(keep);
  process.exit(0);
}

function main() {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const ci = args.indexOf("--child");
  if (ci >= 0) return child(parseBenchEngines(args[ci + 1], TRAINING_BENCH_ENGINES, [])[0], quick);
  const ei = args.indexOf("--engines");
  const engines = parseBenchEngines(ei >= 0 ? args[ei + 1] : undefined, TRAINING_BENCH_ENGINES, DEFAULT_ENGINES);
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  console.log(`\nIOPO training throughput: ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}`);
  for (const id of engines) {
    process.stdout.write(`running ${id} ... `);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", id, ...(quick ? ["--quick"] : [])], {
      encoding: "utf8",
      timeout: 15 * 60_000,
      maxBuffer: 64 << 20,
    });
    const lines = (r.stdout ?? "").split("\n").filter((l) => l.startsWith("RESULT "));
    for (const l of lines) rows.push(JSON.parse(l.slice(7)));
    if (!lines.length)
      rows.push({
        engine: id,
        what: "failed",
        ms: NaN,
        quadsPerS: NaN,
        tokensPerS: NaN,
        note: (r.stderr ?? "").split("\n").slice(-3).join(" "),
      });
    console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const w = (s: string, n: number) => s.padEnd(n);
  console.log(
    `\n${w("engine", 56)} ${w("workload", 62)} ${"best ms".padStart(9)} ${"median".padStart(9)} ${"quads/s".padStart(8)} ${"tokens/s".padStart(9)}`,
  );
  for (const r of rows) {
    const f = (v: number | undefined, d: number) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(d));
    console.log(
      `${w(r.engine.slice(0, 56), 56)} ${w(r.what.slice(0, 62), 62)} ${f(r.ms, 1).padStart(9)} ${f(r.medianMs, 1).padStart(9)} ${f(r.quadsPerS, 2).padStart(8)} ${f(r.tokensPerS, 0).padStart(9)}${r.note ? `  (${r.note.slice(0, 100)})` : ""}`,
    );
  }
  console.log("\nOne step = forward + backward of 4 sequences per quadruple (cached reference log-probs), clip and AdamW in one session;");
  console.log("tokens/s counts every token of the 4 sequences. Vocabulary: the built-in tiny tokenizer (1,660 tokens).");
  console.log(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
}

await main();
