/**
 * onnxruntime-node's native WebGPU EP training the decoder with its state on the GPU (SwiftShader
 * without a GPU): five IOPO steps equal wasm's, full and LoRA; a steady-state step moves no more
 * than its batch plus 64 KiB. Without an adapter the WebGPU tests are skipped with a banner, or
 * fail with GPU_TRAINER_REQUIRE_WEBGPU=1.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SHAPES, benchBatch, shapeConfig } from "../bench/gpu.ts";
import { createNodeWebGpuEngine, createWasmEngine, type Engine, type HostTensor, Trainer } from "@iopo/graph";
import { LINEAR_MODULES, type ModelWeights } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";
import { skipBanner, tryEngine } from "@iopo/graph/testing";

const wasm = await createWasmEngine({ numThreads: 1 });
afterAll(async () => {
  await wasm.close();
});

interface Run {
  losses: number[];
  params: Record<string, HostTensor>;
  weights: ModelWeights;
  /** Bytes the engine moved to and from the host in the last step, and the batch's bytes. */
  lastStepBytes?: number;
  batchBytes: number;
}

/** IOPO steps at the bench's tiny shape (full or LoRA): losses and every parameter after them. */
async function trainSteps(engine: Engine, o: { lora: boolean; steps: number }): Promise<Run> {
  const s = SHAPES.tiny;
  const c = shapeConfig(s);
  const weights = randomWeights(c, 3);
  const feeds = benchBatch(s, c);
  const runner = await LogprobRunner.create(wasm, c, weights);
  const ref = await runner.run(feeds);
  await runner.dispose();
  const tr = await Trainer.create({
    engine,
    model: trainingModel({
      method: "iopo",
      config: c,
      weights,
      lora: o.lora ? { rank: 4, alpha: 8, targets: [...LINEAR_MODULES] } : undefined,
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
    }),
    // AdamW moves a weight whose gradient is ~0 by up to lr whatever its sign: GPU and CPU sums
    // differ there, so full fine-tuning's learning rate is the one a 1e-5 weight check can hold
    lr: o.lora ? 1e-2 : 1e-4,
  });
  const batch = { ...feeds, ref_logps: { dtype: "float32" as const, shape: [ref.length], data: ref } };
  const batchBytes = Object.values(batch).reduce((n, t) => n + t.data.byteLength, 0);
  const losses: number[] = [];
  let lastStepBytes: number | undefined;
  for (let i = 0; i < o.steps; i++) {
    const before = engine.hostBytes;
    losses.push((await tr.step(batch)).loss);
    const after = engine.hostBytes;
    if (before !== undefined && after !== undefined) lastStepBytes = after - before;
  }
  const params = await tr.getParams();
  await tr.dispose();
  return { losses, params, weights, lastStepBytes, batchBytes };
}

function maxDiff(a: Run, b: Run): number {
  let d = 0;
  for (const [k, t] of Object.entries(a.params)) {
    const u = b.params[k].data;
    for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u[i])));
  }
  return d;
}

const made = await tryEngine(() => createNodeWebGpuEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("onnxruntime-node WebGPU EP", made.reason);
}
describe.skipIf(!made.ok)("onnxruntime-node WebGPU EP, state on the GPU", () => {
  const gpu = made.ok ? made.value : undefined;
  afterAll(async () => gpu?.close());
  for (const lora of [false, true])
    it(`${lora ? "LoRA" : "full"}: 5 steps equal wasm's (losses and weights to 1e-5); a step moves at most its batch + 64 KiB`, async () => {
      const a = await trainSteps(wasm, { lora, steps: 5 });
      const b = await trainSteps(gpu!, { lora, steps: 5 });
      expect(b.losses[4]).toBeLessThan(b.losses[0]);
      a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
      expect(maxDiff(a, b)).toBeLessThan(1e-5);
      expect(b.lastStepBytes).toBeGreaterThanOrEqual(b.batchBytes);
      expect(b.lastStepBytes).toBeLessThanOrEqual(b.batchBytes + 64 * 1024);
      // wasm's state lives in host memory and is copied into its heap each run: far more crosses
      expect(a.lastStepBytes).toBeGreaterThan(b.lastStepBytes! + 64 * 1024);
    });
});
