/**
 * onnxruntime-node's native WebGPU EP with state on the device (SwiftShader without a GPU). The
 * probe pins down what the engine relies on: `preferredOutputLocation` per output, a GPU output
 * fed back to the same or another session, readback through a session with a CPU output, and
 * dispose. Then the Trainer on it: steps equal wasm's, only the batch and the scalars cross, and a
 * long run holds a constant number of GPU tensors. No adapter: skipped with a banner, or a failure
 * with GPU_TRAINER_REQUIRE_WEBGPU=1.
 */
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-common";
import { afterAll, describe, expect, it } from "vitest";
import { createNodeWebGpuEngine, createWasmEngine, type OrtEngine } from "../src/engine/ort.ts";
import { Graph } from "../src/graph/graph.ts";
import { toOnnx } from "../src/graph/onnx.ts";
import { Trainer } from "../src/trainer.ts";
import { skipBanner, tryEngine } from "./helpers.ts";
import { TRAINER_MODELS, mlpBatch, runTrainerSteps } from "./trainer-helpers.ts";

const made = await tryEngine(() => createNodeWebGpuEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("onnxruntime-node WebGPU EP tests", made.reason);
}
const engine = made.ok ? made.value : undefined;
const wasm = await createWasmEngine();
afterAll(async () => {
  await engine?.close();
  await wasm.close();
});

describe.skipIf(!engine)("onnxruntime-node WebGPU EP, state on the GPU", () => {
  it("probe: per-output locations, GPU outputs fed back to the same and another session, CPU readback, dispose", async () => {
    const ort = (engine as OrtEngine).ort;
    const so = { executionProviders: ["webgpu"], extra: { session: { disable_cpu_ep_fallback: "1" } } };
    const g = new Graph();
    const x = g.input("x", "float32", [64, 64]);
    const w = g.input("w", "float32", [64, 64]);
    const y = g.add(g.matmul(x, w), x);
    const step = await ort.InferenceSession.create(toOnnx({ y, s: g.reduceSum(y, [0, 1], false) }).bytes, {
      ...so,
      preferredOutputLocation: { y: "gpu-buffer", s: "cpu" },
    } as InferenceSession.SessionOptions);
    const g2 = new Graph();
    const read = await ort.InferenceSession.create(toOnnx({ y: g2.identity(g2.input("x", "float32", [64, 64])) }).bytes, {
      ...so,
      preferredOutputLocation: "cpu",
    } as InferenceSession.SessionOptions);
    // y = x·w + x with w = 0.5·I: each run scales x by 1.5, on the GPU
    const x0 = Float32Array.from({ length: 64 * 64 }, (_, i) => ((i % 7) - 3) / 8);
    const w0 = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 65 === 0 ? 0.5 : 0));
    const wt = new ort.Tensor("float32", w0, [64, 64]);
    let xt: OrtTensor = new ort.Tensor("float32", x0, [64, 64]);
    const sum0 = x0.reduce((a, b) => a + b, 0);
    for (let k = 1; k <= 3; k++) {
      const r = await step.run({ x: xt, w: wt });
      expect(r.y.location).toBe("gpu-buffer");
      expect(r.s.location).toBe("cpu");
      expect(r.s.data[0] as number).toBeCloseTo(sum0 * 1.5 ** k, 3);
      if (k > 1) xt.dispose();
      xt = r.y;
    }
    const back = await read.run({ x: xt }); // another session takes the GPU tensor and returns it on the host
    expect(back.y.location).toBe("cpu");
    (back.y.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(x0[i] * 1.5 ** 3, 5));
    xt.dispose();
    expect(xt.location).toBe("none");
    await step.release();
    await read.release();
  });

  it("upload and download round-trip through the GPU (copy sessions, no getData on a GPU tensor)", async () => {
    const e = engine!;
    const data = Float32Array.from({ length: 30 }, (_, i) => i / 3 - 2);
    const d = await e.upload({ dtype: "float32", shape: [5, 6], data });
    expect(d.location).toBe("gpu");
    const h = await e.download(d);
    expect(h.shape).toEqual([5, 6]);
    expect(Array.from(h.data as Float32Array)).toEqual(Array.from(data));
    e.dispose(d);
  });

  // the decoder (attention included) is checked against wasm in gpu-trainer/test/node-webgpu.test.ts
  it("trainer steps equal wasm (params and moments on the GPU between steps)", async () => {
    const ref = await runTrainerSteps(wasm, TRAINER_MODELS.mlp);
    const got = await runTrainerSteps(engine!, TRAINER_MODELS.mlp);
    got.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
    expect(got.maxParamDiff(ref)).toBeLessThan(1e-5);
  });

  it("gradient accumulation (accumulators on the GPU) equals wasm", async () => {
    const spec = TRAINER_MODELS.mlp;
    const batches = [spec.batches.flat().slice(0, 2), spec.batches.flat().slice(2, 4)];
    const a = await runTrainerSteps(wasm, { ...spec, batches }, { gradAccumulation: 2 });
    const b = await runTrainerSteps(engine!, { ...spec, batches }, { gradAccumulation: 2 });
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-5));
    expect(a.maxParamDiff(b)).toBeLessThan(1e-5);
  });

  it("evaluation and a checkpoint round trip read the GPU state through other sessions", async () => {
    const spec = TRAINER_MODELS.mlp;
    const tr = await Trainer.create({ engine: engine!, model: spec.model, ...spec.config });
    const batch = mlpBatch(5, 8);
    await tr.step(batch);
    const saved = await tr.getState(); // params and moments, downloaded
    const ev = await tr.evaluate(batch); // the eval session takes the GPU params as inputs
    const next = await tr.step(batch); // a step reports the loss before its update
    expect(Math.abs(ev.loss - next.loss)).toBeLessThan(1e-6);
    await tr.step(batch);
    await tr.setState(saved); // back to the checkpoint: the same step again
    expect((await tr.step(batch)).loss).toBe(next.loss);
    await tr.dispose();
  });

  it("a steady-state step moves only the batch and scalars; 200 steps hold a constant number of GPU tensors", async () => {
    const e = engine as OrtEngine;
    const spec = TRAINER_MODELS.mlp;
    const tr = await Trainer.create({ engine: e, model: spec.model, ...spec.config });
    const batch = mlpBatch(5, 8);
    const batchBytes = Object.values(batch).reduce((n, t) => n + t.data.byteLength, 0);
    await tr.step(batch);
    const live = e.liveTensors;
    const before = e.hostBytes;
    await tr.step(batch);
    // the batch, AdamW's scalar hyperparameters in, the loss, metrics and gradient norm out
    const moved = e.hostBytes - before;
    expect(moved).toBeGreaterThanOrEqual(batchBytes);
    expect(moved).toBeLessThan(batchBytes + 256);
    for (let i = 0; i < 198; i++) await tr.step(batch);
    expect(e.liveTensors).toBe(live);
    await tr.dispose();
  }, 120_000);
});
