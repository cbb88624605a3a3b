/**
 * The GPU benchmark: one IOPO optimizer step (policy forward+backward on 4B rows, cached reference
 * log-probs, clip 1.0, AdamW) on Llama-shaped decoders named as in the PyTorch anchor
 * torch_iopo_bench.py (a measuring tool kept outside the repository; same shapes, init, batch
 * layout, learning rates), so the two line up.
 *
 *   npm run bench:gpu -w gpu-trainer -- --sizes small,mid --modes full,lora --engine webgpu
 *   npx tsx bench/gpu.ts --sizes tiny --engine wasm,node --steps 3 --json out.json
 *   npx tsx bench/gpu.ts --sizes mid --compare torch.json     # torch_iopo_bench.py --json output
 *   npx tsx bench/gpu.ts --sizes small --engine node --profile  # where the step's time goes
 *   npx tsx bench/gpu.ts --sizes small,mid,big,q05 --nodes        # ONNX nodes per layer and the largest tensor only
 *   npx tsx bench/gpu.ts --sizes mid --engine node-webgpu --check-engine node  # a device-pack has no wasm
 *
 * Per row: first-step ms (compilation included), median step ms, tokens/s, the loss after each
 * step, the forward (log-prob) pass alone, ONNX nodes per decoder layer of the fused step, the
 * bytes a steady-state step moves between host and device, and the per-row log-prob error against
 * the check engine (wasm unless --check-engine) on the same batch (the correctness check).
 * Timings on a shared machine are noisy: medians, and the load average is printed.
 */
import { writeFileSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import {
  formatProfile,
  summarizeProfile,
  countFlops,
  largestIntermediate,
  type DeviceTensor,
  type Engine,
  type EngineSession,
  type HostTensor,
  toyModels,
  Trainer,
} from "@iopo/graph";
import { type DecoderConfig, countParams, parseHfConfig } from "../src/model/config.ts";
import { LINEAR_MODULES, type ModelWeights, paramShapes } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { type EncodedExample, collate } from "../src/train/batch.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";
import { TRAINING_BENCH_ENGINES, makeBenchEngine, parseBenchEngines } from "./engines.ts";
const { lcg } = toyModels;

/** A benchmark shape: decoder dims, quadruples per step (B) and sequence length (T). */
export interface BenchShape {
  D: number;
  I: number;
  L: number;
  H: number;
  KV: number;
  V: number;
  B: number;
  T: number;
}

/** torch_iopo_bench.py's shapes, plus `tiny` for CPU smoke runs and software adapters. */
export const SHAPES: Record<string, BenchShape> = {
  tiny: { D: 64, I: 176, L: 2, H: 4, KV: 2, V: 512, B: 1, T: 32 },
  small: { D: 256, I: 704, L: 4, H: 8, KV: 4, V: 8192, B: 2, T: 256 },
  mid: { D: 1024, I: 2816, L: 8, H: 16, KV: 8, V: 16384, B: 4, T: 256 },
  big: { D: 2048, I: 5632, L: 8, H: 16, KV: 8, V: 16384, B: 4, T: 512 },
  q05: { D: 896, I: 4864, L: 24, H: 14, KV: 2, V: 151936, B: 2, T: 256 },
};

export const MODES = ["full", "lora"] as const;
export type Mode = (typeof MODES)[number];
export type Precision = "fp32" | "fp16";

/** LoRA as in torch_iopo_bench.py: rank 8, scale 2 (alpha 16), every linear module. */
const LORA = { rank: 8, alpha: 16, targets: [...LINEAR_MODULES] };
/** torch_iopo_bench.py's learning rates (AdamW, no weight decay). */
const LR: Record<Mode, number> = { full: 5e-6, lora: 1e-4 };

export function shapeConfig(s: BenchShape): DecoderConfig {
  return parseHfConfig({
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: s.V,
    hidden_size: s.D,
    intermediate_size: s.I,
    num_hidden_layers: s.L,
    num_attention_heads: s.H,
    num_key_value_heads: s.KV,
    hidden_act: "silu",
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: Math.max(2048, s.T),
    tie_word_embeddings: false,
    torch_dtype: "float32",
  });
}

/** 4B rows of random tokens, prompt 3/4 of T and response 1/4 (no padding), IOPO block order. */
export function benchBatch(s: BenchShape, c: DecoderConfig, seed = 7): Record<string, HostTensor> {
  const r = lcg(seed);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(r() * (s.V - 3)));
  const prompt = (s.T * 3) / 4;
  const examples: EncodedExample[] = Array.from({ length: s.B }, (_, i) => ({
    id: `q${i}`,
    rows: Array.from({ length: 4 }, () => ({ prompt: ids(prompt), response: ids(s.T - prompt) })),
  }));
  return collate(examples, c, 0).feeds;
}

/** An engine that compiles but never runs: node counting without memory for activations. */
class CountingEngine implements Engine {
  readonly kind = "reference" as const;
  readonly software = true;
  readonly preallocatedOutputs = false;
  readonly description = "node counting";
  async createSession(): Promise<EngineSession> {
    return { inputNames: [], outputNames: [], run: () => Promise.reject(new Error("counting only")), release: async () => {} };
  }
  async upload(t: HostTensor): Promise<DeviceTensor> {
    return { dtype: t.dtype, shape: t.shape, location: "cpu", handle: null };
  }
  alloc(): Promise<DeviceTensor> {
    throw new Error("counting only");
  }
  download(): Promise<HostTensor> {
    throw new Error("counting only");
  }
  dispose() {}
  async close() {}
}

/** Zero weights, one buffer per distinct size (only shapes matter where they are used). */
function zeroWeights(c: DecoderConfig): ModelWeights {
  const bySize = new Map<number, Float32Array>();
  const zeros = (n: number) => bySize.get(n) ?? bySize.set(n, new Float32Array(n)).get(n)!;
  return new Map([...paramShapes(c)].map(([n, shape]) => [n, zeros(shape.reduce((a, b) => a * b, 1))]));
}

function trainerConfig(
  engine: Engine,
  c: DecoderConfig,
  weights: ModelWeights,
  mode: Mode,
  profile = false,
  precision: Precision = "fp32",
  vocabChunk?: number,
) {
  return {
    engine,
    model: trainingModel({
      method: "iopo",
      config: c,
      weights,
      lora: mode === "lora" ? LORA : undefined,
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
      computeDtype: precision === "fp16" ? "float16" : "float32",
      vocabChunk,
    }),
    lossScaling: precision === "fp16" ? {} : undefined,
    lr: LR[mode],
    weightDecay: 0,
    clipGradNorm: 1,
    profile,
  };
}

export interface NodeCounts {
  /** ONNX nodes of the fused step (forward, backward, clip, AdamW) per decoder layer. */
  perLayer: number;
  /** The rest: embedding, final norm, head, loss, optimizer buckets. */
  fixed: number;
  /** Nodes per layer by ONNX op type. */
  perLayerOps: Record<string, number>;
}

/**
 * Nodes per layer of the fused training step: the 2-layer graph minus the 1-layer one. The
 * vocabulary is capped (it changes tensor sizes, not the graph) so q05 needs no 1 GB of zeros.
 */
export function nodesPerLayer(s: BenchShape, mode: Mode, precision: Precision = "fp32"): Promise<NodeCounts> {
  const count = async (L: number) => {
    const c = shapeConfig({ ...s, L, V: Math.min(s.V, 4096) });
    const tr = await Trainer.create(trainerConfig(new CountingEngine(), c, zeroWeights(c), mode, false, precision));
    return tr.models.fused;
  };
  return Promise.all([count(1), count(2)]).then(([one, two]) => {
    const perLayerOps: Record<string, number> = {};
    for (const op of new Set([...Object.keys(one.opCounts), ...Object.keys(two.opCounts)])) {
      const d = (two.opCounts[op] ?? 0) - (one.opCounts[op] ?? 0);
      if (d !== 0) perLayerOps[op] = d;
    }
    return { perLayer: two.nodeCount - one.nodeCount, fixed: 2 * one.nodeCount - two.nodeCount, perLayerOps };
  });
}

/**
 * The largest intermediate tensor of the fused step at the shape's batch (from the graph's shape
 * inference, no run): bytes, and which tensor (op and shape) it is.
 */
export async function largestTensor(
  s: BenchShape,
  mode: Mode,
  precision: Precision = "fp32",
  vocabChunk?: number,
): Promise<{ bytes: number; what: string }> {
  const c = shapeConfig(s);
  const tr = await Trainer.create(trainerConfig(new CountingEngine(), c, zeroWeights(c), mode, false, precision, vocabChunk));
  const big = largestIntermediate(tr.models.fused.graphOutputs, { B: s.B, T: s.T });
  await tr.dispose();
  return { bytes: big.bytes, what: `${big.op} ${big.tensor?.dtype}[${big.tensor?.shape.join(",")}]` };
}

export interface BenchRow {
  engine: string;
  shape: string;
  mode: Mode;
  precision: Precision;
  params: number;
  trainable: number;
  /** Tokens per step (all 4B rows). */
  tokens: number;
  /** Session creation (graph build, compile, ORT session). */
  createMs: number;
  firstStepMs: number;
  /** Median of the timed steps (after the first). */
  stepMs: number;
  minMs: number;
  tokensPerS: number;
  /** Loss after each step, the first included. */
  losses: number[];
  /** fp16: steps skipped for a non-finite gradient (dynamic loss scaling). */
  skipped: number;
  /** The log-prob pass alone (second run). */
  forwardMs: number;
  nodes: NodeCounts & { total: number };
  /** MatMul/Gemm FLOPs of the fused step (2MNK each). */
  gflop: number;
  /** Bytes moved between host and device in the last timed step (`Engine.hostBytes`; undefined: not counted). */
  hostBytesPerStep?: number;
  /** The largest intermediate tensor of the fused step (shape inference at the row's batch). */
  largestTensorBytes: number;
  /** Largest per-row relative log-prob difference against `checkEngine` (undefined: no check). */
  logpRelErr?: number;
  checkEngine?: string;
  profile?: string;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

/** Largest |a_i - b_i| / |b_i| over rows. */
export function maxRelErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-30));
  return e;
}

export interface RowOptions {
  shape: string;
  mode: Mode;
  precision?: Precision;
  /** Timed steps after the first (default 5). */
  steps?: number;
  /** Compare the log-prob pass against this engine (the command's --check-engine, default wasm). */
  check?: Engine;
  profile?: boolean;
  /** Vocabulary columns per head chunk (default the trainer's; 0: whole logits, the graph before chunking). */
  vocabChunk?: number;
}

export async function benchRow(engine: Engine, o: RowOptions): Promise<BenchRow> {
  const s = SHAPES[o.shape];
  if (!s) throw new Error(`unknown shape "${o.shape}" (choose ${Object.keys(SHAPES).join(", ")})`);
  const precision = o.precision ?? "fp32";
  const c = shapeConfig(s);
  const weights = randomWeights(c, 0);
  const feeds = benchBatch(s, c);

  // the log-prob pass: the cached reference log-probs, the forward timing and the correctness check
  const runner = await LogprobRunner.create(engine, c, weights);
  const ref = await runner.run(feeds);
  let t0 = performance.now();
  const again = await runner.run(feeds);
  const forwardMs = performance.now() - t0;
  await runner.dispose();
  let logpRelErr: number | undefined;
  if (o.check) {
    const other = await LogprobRunner.create(o.check, c, weights);
    logpRelErr = Math.max(maxRelErr(ref, await other.run(feeds)), maxRelErr(again, ref));
    await other.dispose();
  }

  t0 = performance.now();
  const tr = await Trainer.create(trainerConfig(engine, c, weights, o.mode, o.profile, precision, o.vocabChunk));
  const createMs = performance.now() - t0;
  const batch = { ...feeds, ref_logps: { dtype: "float32" as const, shape: [ref.length], data: ref } };
  const losses: number[] = [];
  const times: number[] = [];
  let firstStepMs = 0;
  let skipped = 0;
  let hostBytesPerStep: number | undefined;
  for (let i = 0; i <= (o.steps ?? 5); i++) {
    const before = engine.hostBytes;
    const m = await tr.step(batch);
    if (before !== undefined && engine.hostBytes !== undefined) hostBytesPerStep = engine.hostBytes - before;
    losses.push(m.loss);
    skipped = m.skipped_total ?? 0;
    if (i === 0) firstStepMs = m.stepMs;
    else times.push(m.stepMs);
  }
  const profile = o.profile ? formatProfile(summarizeProfile(await tr.endProfiling(), { skipRuns: 1 })) : undefined;
  const total = tr.models.fused.nodeCount;
  const gflop = countFlops(tr.models.fused.graphOutputs, { B: s.B, T: s.T }).matmul / 1e9;
  const largestTensorBytes = largestIntermediate(tr.models.fused.graphOutputs, { B: s.B, T: s.T }).bytes;
  const trainable = tr.trainable.reduce((k, p) => k + p.data!.length, 0);
  await tr.dispose();
  const stepMs = times.length ? median(times) : firstStepMs;
  const tokens = 4 * s.B * s.T;
  return {
    engine: engine.description,
    shape: o.shape,
    mode: o.mode,
    precision,
    params: countParams(c),
    trainable,
    tokens,
    createMs,
    firstStepMs,
    stepMs,
    minMs: times.length ? Math.min(...times) : firstStepMs,
    tokensPerS: (tokens * 1000) / stepMs,
    losses,
    skipped,
    forwardMs,
    nodes: { ...(await nodesPerLayer(s, o.mode, precision)), total },
    gflop,
    hostBytesPerStep,
    largestTensorBytes,
    logpRelErr,
    checkEngine: o.check?.description,
    profile,
  };
}

/** torch_iopo_bench.py rows: `what` = "iopo-step <shape> <mode> <precision>", `ms` = median step. */
interface TorchRow {
  what?: string;
  ms?: number;
}

/** The PyTorch row to compare with: fp32 eager for fp32, bf16 autocast for fp16. */
export function torchMs(rows: TorchRow[], shape: string, mode: Mode, precision: Precision): number | undefined {
  const want = `iopo-step ${shape} ${mode} ${precision === "fp16" ? "bf16" : "fp32"}`;
  return rows.find((r) => r.what === want && typeof r.ms === "number")?.ms;
}

function parseList<T extends string>(v: string | undefined, all: readonly T[], def: T[]): T[] {
  if (!v) return def;
  const xs = v.split(",").filter(Boolean) as T[];
  for (const x of xs) if (!all.includes(x)) throw new Error(`unknown value "${x}" (choose ${all.join(", ")})`);
  return xs;
}

const USAGE = `Usage: bench/gpu.ts [--sizes ${Object.keys(SHAPES).join(",")}] [--modes full,lora] [--engine ${TRAINING_BENCH_ENGINES.join("|")}[,...]]
  [--precision fp32|fp16] [--vocab-chunk n] [--steps n] [--json FILE] [--compare torch.json] [--check-engine ${TRAINING_BENCH_ENGINES.join("|")}]
  [--no-check] [--profile] [--nodes]
  defaults: --sizes small --modes full,lora --engine webgpu --steps 5 --check-engine wasm`;

async function main(argv: string[]) {
  const arg = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--help")) return console.log(USAGE);
  const sizes = parseList(arg("--sizes"), Object.keys(SHAPES), ["small"]);
  const modes = parseList(arg("--modes"), MODES, ["full", "lora"]);
  const engines = parseBenchEngines(arg("--engine"), TRAINING_BENCH_ENGINES, ["webgpu"]);
  const precision = parseList(arg("--precision"), ["fp32", "fp16"] as const, ["fp32"])[0];
  const steps = Number(arg("--steps") ?? 5);
  const vocabChunk = arg("--vocab-chunk") === undefined ? undefined : Number(arg("--vocab-chunk"));
  const jsonFile = arg("--json");
  const compare = arg("--compare");
  const torch: TorchRow[] = compare ? JSON.parse(readFileSync(compare, "utf8")) : [];
  const check = !argv.includes("--no-check");
  const checkId = parseBenchEngines(arg("--check-engine"), TRAINING_BENCH_ENGINES, ["wasm"])[0];
  const profile = argv.includes("--profile");

  if (argv.includes("--nodes")) {
    // graph sizes only: no engine, no run
    for (const shape of sizes)
      for (const mode of modes) {
        const n = await nodesPerLayer(SHAPES[shape], mode, precision);
        console.log(`${shape} ${mode}: ${n.perLayer} nodes per layer, +${n.fixed} fixed, ${n.fixed + SHAPES[shape].L * n.perLayer} total`);
        const ops = Object.entries(n.perLayerOps).sort((a, b) => b[1] - a[1]);
        console.log(`  per layer: ${ops.map(([op, k]) => `${op} ${k}`).join(", ")}`);
        const big = await largestTensor(SHAPES[shape], mode, precision, vocabChunk);
        console.log(`  largest intermediate: ${(big.bytes / 2 ** 20).toFixed(1)} MiB (${big.what})`);
      }
    return;
  }
  console.log(`gpu-trainer bench: ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}`);
  const reference = check ? await makeBenchEngine(checkId) : undefined;
  const rows: (BenchRow & { torchMs?: number; vsTorch?: number })[] = [];
  for (const id of engines) {
    let engine: Engine;
    try {
      engine = id === checkId && reference ? reference : await makeBenchEngine(id);
    } catch (e) {
      console.log(`${id}: unavailable (${(e as Error).message})`);
      continue;
    }
    console.log(`engine: ${engine.description}`);
    for (const shape of sizes)
      for (const mode of modes) {
        const r = await benchRow(engine, {
          shape,
          mode,
          precision,
          steps,
          check: engine === reference ? undefined : reference,
          profile,
          vocabChunk,
        });
        const t = torchMs(torch, shape, mode, precision);
        const row = { ...r, torchMs: t, vsTorch: t === undefined ? undefined : t / r.stepMs };
        rows.push(row);
        printRow(row);
        if (r.profile) console.log(`\n${r.profile}\n`);
        if (jsonFile) writeFileSync(jsonFile, JSON.stringify(rows, null, 1));
      }
    if (engine !== reference) await engine.close();
  }
  await reference?.close();
  console.log(
    `\nstep = one IOPO optimizer step (forward+backward of 4B rows, cached reference, clip, AdamW) in one session; ` +
      `vs torch = PyTorch ms / ours (1 = parity; fp32 rows against fp32 eager, fp16 against bf16 autocast). ` +
      `Nodes per layer counted on the fused step (2 layers minus 1). Load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
  );
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function printRow(r: BenchRow & { torchMs?: number; vsTorch?: number }) {
  const f = (v: number | undefined, d = 1) => (v === undefined ? "-" : v.toFixed(d));
  console.log(
    [
      `${r.shape} ${r.mode} ${r.precision}`.padEnd(18),
      `${(r.params / 1e6).toFixed(1)}M`.padStart(7),
      `step ${f(r.stepMs)} ms (min ${f(r.minMs)}, first ${f(r.firstStepMs)})`,
      `fwd ${f(r.forwardMs)} ms`,
      `${f(r.tokensPerS, 0)} tok/s`,
      `${f(r.gflop, 1)} GFLOP (${f((r.gflop * 1000) / r.stepMs, 1)} GFLOP/s)`,
      `nodes/layer ${r.nodes.perLayer} (+${r.nodes.fixed}; ${r.nodes.total} total)`,
      r.hostBytesPerStep === undefined ? "" : `host<->device ${formatBytes(r.hostBytesPerStep)}/step`,
      `largest tensor ${formatBytes(r.largestTensorBytes)}`,
      r.logpRelErr === undefined ? "" : `logp rel err ${r.logpRelErr.toExponential(1)}`,
      r.torchMs === undefined ? "" : `torch ${f(r.torchMs)} ms, ours ${f(r.vsTorch, 2)}x`,
    ]
      .filter(Boolean)
      .join(" | "),
  );
  console.log(
    `  losses: ${r.losses.map((l) => l.toFixed(5)).join(" ")}${r.precision === "fp16" ? ` (${r.skipped} overflow step(s) skipped)` : ""}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const keep = setInterval(() => {}, 1000); // Dawn's callbacks need a live event loop
  await main(process.argv.slice(2));
  clearInterval(keep);
  process.exit(0);
}
