/**
 * Benchmark: forward + backward + AdamW step time and achieved GFLOP/s for a transformer block at a
 * few sizes, per engine, plus a plain MatMul as the ceiling. Each engine runs in its own process
 * (the wasm thread count is fixed per process).
 *
 *   npm run bench -w gpu-trainer                 # all engines that exist here
 *   npx tsx bench/run.ts --quick                 # smallest sizes only
 *   npx tsx bench/run.ts --engines wasm1,node    # pick engines (bench/engines.ts): wasm1 wasm2 node webgpu browser ...
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { type Engine, compile, countFlops, Graph, toyModels, type ModelFn, Trainer, tensor } from "@iopo/graph";
import { BENCH_ENGINES, type BenchEngineId, makeBenchEngine, parseBenchEngines } from "./engines.ts";
const { lcg, transformerBlock } = toyModels;
type BlockConfig = toyModels.BlockConfig;

interface Size {
  name: string;
  B: number;
  T: number;
  D: number;
  H: number;
}
const SIZES: Size[] = [
  { name: "S", B: 4, T: 64, D: 128, H: 4 },
  { name: "M", B: 4, T: 128, D: 256, H: 4 },
  { name: "L", B: 4, T: 256, D: 512, H: 8 },
];
const MATMUL_N = [256, 512, 1024];

/** Engines run when --engines is not given. */
const DEFAULT_ENGINES: BenchEngineId[] = ["wasm1", "wasm2", "node", "webgpu", "browser"];

interface Row {
  engine: string;
  what: string;
  /** best (minimum) time: the least disturbed by other load on a shared machine */
  ms: number;
  medianMs?: number;
  gflops: number;
  note?: string;
}

function blockModel(s: Size): ModelFn {
  return (g) => {
    const x = g.input("x", "float32", [s.B, s.T, s.D]);
    const y = g.input("y", "float32", [s.B, s.T, s.D]);
    const cfg: BlockConfig = { batch: s.B, seq: s.T, vocab: 0, dim: s.D, heads: s.H };
    const out = transformerBlock(g, x, cfg, "blk", 1);
    const d = g.sub(out, y);
    return { loss: g.reduceMean(g.mul(d, d)) };
  };
}

function randn(n: number, seed: number): number[] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function benchMatmul(e: Engine, N: number, iters: number): Promise<Row> {
  const g = new Graph();
  const a = g.input("a", "float32", [N, N]);
  const b = g.input("b", "float32", [N, N]);
  const m = compile({ y: g.matmul(a, b) });
  const s = await e.createSession(m, { deviceOutputs: ["y"] });
  const da = await e.upload(tensor("float32", [N, N], randn(N * N, 1)));
  const db = await e.upload(tensor("float32", [N, N], randn(N * N, 2)));
  const out = e.preallocatedOutputs ? await e.alloc("float32", [N, N]) : "device";
  const run = async (spec: typeof out | "host") => {
    const r = await s.run({ a: da, b: db }, { y: spec });
    if (spec === "device") e.dispose(r.device.y);
  };
  await run(out);
  await run("host");
  // each sample: `inner` queued runs then one read-back (forces completion of queued GPU work)
  const inner = 3;
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    for (let k = 0; k < inner - 1; k++) await run(out);
    await run("host");
    times.push((performance.now() - t0) / inner);
  }
  await s.release();
  const ms = Math.min(...times);
  return { engine: e.description, what: `MatMul ${N}x${N}x${N}`, ms, medianMs: median(times), gflops: (2 * N ** 3) / ms / 1e6 };
}

async function benchBlock(e: Engine, s: Size, steps: number): Promise<Row> {
  const tr = await Trainer.create({ engine: e, model: blockModel(s), lr: 1e-4, clipGradNorm: 1 });
  const n = s.B * s.T * s.D;
  const batch = { x: tensor("float32", [s.B, s.T, s.D], randn(n, 3)), y: tensor("float32", [s.B, s.T, s.D], randn(n, 4)) };
  const flops = countFlops(tr.models.fused.graphOutputs);
  const params = tr.trainable.reduce((k, p) => k + (p.data?.length ?? 0), 0);
  await tr.step(batch); // warm-up: shader compilation, allocation
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await tr.step(batch);
    times.push(performance.now() - t0);
  }
  await tr.dispose();
  const ms = Math.min(...times);
  return {
    medianMs: median(times),
    engine: e.description,
    what: `block ${s.name} B${s.B} T${s.T} D${s.D} H${s.H} (${(params / 1e6).toFixed(2)}M params, ${(flops.matmul / 1e9).toFixed(2)} GFLOP/step)`,
    ms,
    gflops: flops.matmul / ms / 1e6,
  };
}

async function child(id: BenchEngineId, quick: boolean) {
  const keep = setInterval(() => {}, 1000);
  let e: Engine;
  try {
    e = await makeBenchEngine(id);
  } catch (err) {
    console.log(`RESULT ${JSON.stringify({ engine: id, what: "unavailable", ms: NaN, gflops: NaN, note: (err as Error).message })}`);
    clearInterval(keep);
    process.exit(0);
  }
  const soft = e.software;
  const sizes = quick || soft ? SIZES.slice(0, 1) : SIZES;
  const ns = quick || soft ? MATMUL_N.slice(0, 1) : MATMUL_N;
  for (const N of ns) {
    const r = await benchMatmul(e, N, soft ? 2 : N >= 1024 ? 4 : 8);
    console.log(`RESULT ${JSON.stringify({ ...r, note: soft ? "software adapter" : undefined })}`);
  }
  for (const s of sizes) {
    const r = await benchBlock(e, s, soft ? 2 : s.name === "L" ? 4 : 8);
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
  if (ci >= 0) return child(parseBenchEngines(args[ci + 1], BENCH_ENGINES, [])[0], quick);
  const ei = args.indexOf("--engines");
  const engines = parseBenchEngines(ei >= 0 ? args[ei + 1] : undefined, BENCH_ENGINES, DEFAULT_ENGINES);
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  console.log(`gpu-trainer benchmark: ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}`);
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
      rows.push({ engine: id, what: "failed", ms: NaN, gflops: NaN, note: (r.stderr ?? "").split("\n").slice(-3).join(" ") });
    console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const w = (s: string, n: number) => s.padEnd(n);
  console.log(`\n${w("engine", 64)} ${w("workload", 72)} ${"best ms".padStart(9)} ${"median".padStart(9)} ${"GFLOP/s".padStart(8)}`);
  for (const r of rows) {
    const ms = Number.isNaN(r.ms) ? "-" : r.ms.toFixed(1);
    const md = r.medianMs === undefined ? "-" : r.medianMs.toFixed(1);
    const gf = Number.isNaN(r.gflops) ? "-" : r.gflops.toFixed(2);
    console.log(
      `${w(r.engine.slice(0, 64), 64)} ${w(r.what.slice(0, 72), 72)} ${ms.padStart(9)} ${md.padStart(9)} ${gf.padStart(8)}${r.note ? `  (${r.note.slice(0, 120)})` : ""}`,
    );
  }
  console.log("\nblock = one pre-norm transformer block (RMSNorm, causal MHA, SiLU MLP 4x), fused forward+backward+clip+AdamW session,");
  console.log(
    "parameters and optimizer state resident on the engine between steps; GFLOP/s = MatMul FLOPs (2MNK) of the step / best time.",
  );
  console.log(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (other processes on this machine disturb the timings)`,
  );
}

await main();
