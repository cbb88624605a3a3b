/**
 * The GPU benchmark (bench/gpu.ts) and the profiler, smoke-tested on the CPU engines at the tiny
 * shape: fields and invariants, never timings. The WebGPU profile (GPU timestamps) is checked where
 * an adapter exists (SwiftShader without a GPU).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { SHAPES, benchRow, torchMs } from "../bench/gpu.ts";
import {
  createNodeCpuEngine,
  createWasmEngine,
  createWebGpuNodeEngine,
  parseOrtProfile,
  summarizeProfile,
  compile,
  Graph,
} from "@iopo/graph";
import { skipBanner, tryEngine } from "@iopo/graph/testing";

const wasm = await createWasmEngine({ numThreads: 1 });
const node = await createNodeCpuEngine();
const dir = mkdtempSync(join(tmpdir(), "bench-gpu-"));
afterAll(async () => {
  await wasm.close();
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A graph with a MatMul, run `runs` times with profiling on; returns the events. */
async function profiledMatmul(engine: typeof wasm, runs: number) {
  const g = new Graph();
  const a = g.input("a", "float32", [32, 32]);
  const s = await engine.createSession(compile({ y: g.reduceSum(g.exp(g.matmul(a, a))) }), { profile: true });
  const x = { dtype: "float32" as const, shape: [32, 32], data: new Float32Array(1024).fill(0.01) };
  for (let i = 0; i < runs; i++) await s.run({ a: x }, { y: "host" });
  const events = await s.endProfiling!();
  await s.release();
  return events;
}

describe("bench:gpu", () => {
  it("a row on onnxruntime-node: losses from log 2, node counts add up, log-probs equal wasm's", async () => {
    const r = await benchRow(node, { shape: "tiny", mode: "lora", steps: 2, check: wasm });
    const s = SHAPES.tiny;
    expect(r.tokens).toBe(4 * s.B * s.T);
    expect(r.losses).toHaveLength(3);
    // the cached reference is the starting policy: h = 0, so the first loss is -log sigmoid(0)
    expect(r.losses[0]).toBeCloseTo(Math.LN2, 5);
    expect(r.losses[2]).toBeLessThan(r.losses[0]);
    expect(r.nodes.perLayer).toBeGreaterThan(0);
    expect(r.nodes.fixed + s.L * r.nodes.perLayer).toBe(r.nodes.total);
    expect(r.logpRelErr).toBeLessThan(1e-5);
    expect(r.trainable).toBeLessThan(r.params);
    // a CPU engine's state is host memory copied into and out of the engine each step: the trainable weights cross
    expect(r.hostBytesPerStep).toBeGreaterThan(2 * 4 * r.trainable);
    // LoRA computes no gradients for the frozen weights: fewer matmul FLOPs than full (80% at
    // tiny, where the head dominates; ~2/3 at the larger shapes)
    const full = await benchRow(node, { shape: "tiny", mode: "full", steps: 0 });
    expect(r.gflop).toBeGreaterThan(0);
    expect(r.gflop).toBeLessThan(0.85 * full.gflop);
    for (const v of [r.stepMs, r.firstStepMs, r.forwardMs, r.tokensPerS]) expect(v).toBeGreaterThan(0);
  });

  it("the command writes its rows as JSON, with the PyTorch ratio from --compare, checked against --check-engine", () => {
    const torch = join(dir, "torch.json");
    const out = join(dir, "rows.json");
    const fake = [{ engine: "torch-cuda", what: "iopo-step tiny full fp32", ms: 2 }];
    writeFileSync(torch, JSON.stringify(fake));
    const script = fileURLToPath(new URL("../bench/gpu.ts", import.meta.url));
    const p = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        script,
        "--sizes",
        "tiny",
        "--modes",
        "full",
        "--engine",
        "wasm",
        "--check-engine",
        "node",
        "--steps",
        "1",
        "--json",
        out,
        "--compare",
        torch,
      ],
      {
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/tiny full fp32 .*nodes\/layer \d+ .*torch 2\.0 ms/);
    const rows = JSON.parse(readFileSync(out, "utf8"));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ shape: "tiny", mode: "full", precision: "fp32", torchMs: 2 });
    expect(rows[0].vsTorch).toBeCloseTo(2 / rows[0].stepMs, 6);
    expect(rows[0].losses).toHaveLength(2);
    expect(rows[0].checkEngine).toMatch(/onnxruntime-node CPU/);
    expect(rows[0].logpRelErr).toBeLessThan(1e-5);
    expect(rows[0].hostBytesPerStep).toBeGreaterThan(0);
  }, 130_000);

  it("picks the PyTorch row of the same shape, mode and precision (bf16 for fp16)", () => {
    const rows = [
      { what: "iopo-step mid lora fp32", ms: 61 },
      { what: "iopo-step mid lora bf16", ms: 60 },
      { what: "iopo-step mid full fp32", error: "oom" },
    ];
    expect(torchMs(rows, "mid", "lora", "fp32")).toBe(61);
    expect(torchMs(rows, "mid", "lora", "fp16")).toBe(60);
    expect(torchMs(rows, "mid", "full", "fp32")).toBeUndefined();
  });
});

describe("profiler", () => {
  it("parses ORT's trace: GPU timestamps win over host times, runs are delimited by model_run", () => {
    const ev = (o: object) => JSON.stringify({ ph: "X", pid: 1, tid: 1, ...o });
    const text = [
      "[",
      `${ev({ cat: "Session", name: "model_run", ts: 0, dur: 100 })},`,
      `${ev({ cat: "Node", name: "n0_MatMul_kernel_time", ts: 10, dur: 5, args: { op_name: "MatMul" } })},`,
      `${ev({ cat: "Api", name: "n0_MatMul&MatMul&MatMul", ts: 20, dur: 50 })},`,
      `${ev({ cat: "Session", name: "model_run", ts: 200, dur: 100 })},`,
      `${ev({ cat: "Api", name: "n0_MatMul&MatMul&MatMul", ts: 210, dur: 30 })},`,
      `${ev({ cat: "Api", name: "n1_Exp&Exp&Exp", ts: 250, dur: 10 })}`,
      "]",
    ].join("\n");
    const events = parseOrtProfile(text);
    expect(events.map((e) => [e.node, e.op, e.clock, e.run])).toEqual([
      ["n0_MatMul", "MatMul", "host", 0],
      ["n0_MatMul", "MatMul", "gpu", 0],
      ["n0_MatMul", "MatMul", "gpu", 1],
      ["n1_Exp", "Exp", "gpu", 1],
    ]);
    const s = summarizeProfile(events, { skipRuns: 1 });
    expect(s).toMatchObject({ clock: "gpu", runs: 1, totalUs: 40 });
    expect(s.byOp.map((r) => [r.name, r.us, r.share])).toEqual([
      ["MatMul", 30, 0.75],
      ["Exp", 10, 0.25],
    ]);
  });

  for (const [name, engine] of [
    ["wasm", () => wasm],
    ["onnxruntime-node", () => node],
  ] as const)
    it(`times every node of a ${name} session by op type`, async () => {
      const events = await profiledMatmul(engine(), 3);
      const s = summarizeProfile(events, { skipRuns: 1 });
      expect(s.clock).toBe("host");
      expect(s.runs).toBe(2);
      expect(s.byOp.map((r) => r.name).sort()).toEqual(["Exp", "MatMul", "ReduceSum"]);
      expect(s.byOp.every((r) => r.count === 1)).toBe(true);
    });
});

const gpu = await tryEngine(() => createWebGpuNodeEngine());
if (!gpu.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${gpu.reason}`);
  skipBanner("WebGPU profiler", gpu.reason);
}
describe.skipIf(!gpu.ok)("profiler on WebGPU", () => {
  afterAll(async () => gpu.ok && gpu.value.close());
  it("reports the kernels' GPU time (timestamp queries) by op type", async () => {
    const s = summarizeProfile(await profiledMatmul(gpu.ok ? gpu.value : wasm, 2), { skipRuns: 1 });
    expect(s.clock).toBe("gpu");
    expect(s.byOp.map((r) => r.name)).toContain("MatMul");
    expect(s.totalUs).toBeGreaterThan(0);
  });
});
