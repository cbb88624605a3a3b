/**
 * Mixed precision: the decoder computing in fp16 (fp32 master weights and AdamW state, fp32
 * log-softmax) with dynamic loss scaling. On wasm, ORT runs the fp16 graph through its CPU EP
 * (casting around kernels it lacks in fp16), which checks the arithmetic, not the speed;
 * SwiftShader has no shader-f16, so WebGPU fp16 is left to a GPU.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SHAPES, benchBatch, shapeConfig } from "../bench/gpu.ts";
import { createWasmEngine, type HostTensor, Trainer } from "@iopo/graph";
import { LINEAR_MODULES } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";

const wasm = await createWasmEngine({ numThreads: 1 });
afterAll(async () => wasm.close());

const s = SHAPES.tiny;
const c = shapeConfig(s);
const weights = randomWeights(c, 5);
const feeds = benchBatch(s, c, 11);
const runner = await LogprobRunner.create(wasm, c, weights);
const batch: Record<string, HostTensor> = { ...feeds, ref_logps: { dtype: "float32", shape: [4 * s.B], data: await runner.run(feeds) } };
await runner.dispose();

function trainer(fp16: boolean, lossScaling?: { init?: number; growthInterval?: number }) {
  return Trainer.create({
    engine: wasm,
    model: trainingModel({
      method: "iopo",
      config: c,
      weights,
      lora: { rank: 4, alpha: 8, targets: [...LINEAR_MODULES] },
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
      computeDtype: fp16 ? "float16" : "float32",
    }),
    lr: 5e-3,
    lossScaling,
  });
}

describe("fp16 compute with dynamic loss scaling", () => {
  it("follows fp32's loss within 1e-2 over 20 steps, none skipped", async () => {
    const a = await trainer(false);
    const b = await trainer(true, {});
    const fp32: number[] = [];
    const fp16: number[] = [];
    let last: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      fp32.push((await a.step(batch)).loss);
      last = await b.step(batch);
      fp16.push(last.loss);
    }
    expect(fp32[19]).toBeLessThan(fp32[0] - 0.1); // the comparison is over a moving loss
    fp16.forEach((l, i) => expect(Math.abs(l - fp32[i]), `step ${i}`).toBeLessThan(1e-2));
    expect(last).toMatchObject({ skipped: 0, skipped_total: 0, loss_scale: 2 ** 16 });
    // master weights stay fp32
    expect((await b.getParams())["model.layers.0.mlp.up_proj.lora_B.weight"].dtype).toBe("float32");
    await a.dispose();
    await b.dispose();
  });

  it("an overflowing step changes nothing, is counted and halves the scale; finite steps grow it", async () => {
    const t = await trainer(true, { init: 2 ** 40, growthInterval: 2 });
    const before = await t.getParams();
    const m = await t.step(batch); // 2^40 times the logits' gradient overflows fp16
    expect(m).toMatchObject({ skipped: 1, skipped_total: 1, loss_scale: 2 ** 40 });
    expect(m.gradNorm).not.toBeLessThan(Infinity);
    const after = await t.getParams();
    for (const [k, v] of Object.entries(before))
      expect(Array.from(after[k].data as Float32Array), k).toEqual(Array.from(v.data as Float32Array));
    expect(t.lossScale).toBe(2 ** 39);
    // halving until the gradient fits, then doubling after 2 finite steps in a row
    let r = m;
    for (let i = 0; i < 40 && r.skipped; i++) r = await t.step(batch);
    expect(r.skipped).toBe(0);
    expect(r.skipped_total).toBe(t.skippedSteps);
    const fits = t.lossScale;
    expect(fits).toBe(r.loss_scale);
    const next = await t.step(batch);
    expect(next.skipped).toBe(0);
    expect(t.lossScale).toBe(2 * fits);
    await t.dispose();
  });
});
