/**
 * Frozen weights inside the session (`TrainerConfig.frozenInSession`) and onnxruntime-node's native
 * WebGPU EP, the engine it is for (host I/O: only adapters and moments cross per step). The EP
 * runs on SwiftShader without a GPU; without an adapter its tests are skipped with a banner, or
 * fail with GPU_TRAINER_REQUIRE_WEBGPU=1.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SHAPES, benchBatch, shapeConfig } from "../bench/gpu.ts";
import { createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, type Engine, Trainer } from "@iopo/graph";
import { LINEAR_MODULES } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";
import { skipBanner, tryEngine } from "@iopo/graph/testing";

const wasm = await createWasmEngine({ numThreads: 1 });
const cpu = await createNodeCpuEngine();
afterAll(async () => {
  await wasm.close();
  await cpu.close();
});

/** Three LoRA IOPO steps at the bench's tiny shape: losses and every parameter after them. */
async function loraSteps(engine: Engine, frozenInSession: boolean) {
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
      lora: { rank: 4, alpha: 8, targets: [...LINEAR_MODULES] },
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
    }),
    lr: 1e-2,
    frozenInSession,
  });
  const losses: number[] = [];
  for (let i = 0; i < 3; i++)
    losses.push((await tr.step({ ...feeds, ref_logps: { dtype: "float32", shape: [ref.length], data: ref } })).loss);
  const params = await tr.getParams();
  const inputs = tr.models.fused.inputs.map((i) => i.name);
  await tr.dispose();
  return { losses, params, inputs, weights };
}

function maxDiff(a: Awaited<ReturnType<typeof loraSteps>>, b: Awaited<ReturnType<typeof loraSteps>>): number {
  let d = 0;
  for (const [k, t] of Object.entries(a.params)) {
    const u = b.params[k].data;
    for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u[i])));
  }
  return d;
}

describe("frozen weights inside the session", () => {
  it("train as when fed: same losses and parameters; the frozen weights are no session inputs", async () => {
    const fed = await loraSteps(cpu, false);
    const inside = await loraSteps(cpu, true);
    expect(inside.losses[2]).toBeLessThan(inside.losses[0]);
    inside.losses.forEach((l, i) => expect(Math.abs(l - fed.losses[i])).toBeLessThan(1e-6));
    expect(maxDiff(inside, fed)).toBeLessThan(1e-6);
    expect(fed.inputs).toContain("model.layers.0.self_attn.q_proj.weight");
    expect(inside.inputs.filter((n) => n.startsWith("model.") && !n.includes("lora_"))).toEqual([]);
    expect(inside.inputs.filter((n) => n.includes("lora_"))).toHaveLength(fed.inputs.filter((n) => n.includes("lora_")).length);
    // getParams still returns the frozen weights (their initial values)
    expect(Array.from(inside.params["model.norm.weight"].data as Float32Array)).toEqual(
      Array.from(inside.weights.get("model.norm.weight")!),
    );
  });
});

const made = await tryEngine(() => createNodeWebGpuEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("onnxruntime-node WebGPU EP", made.reason);
}
describe.skipIf(!made.ok)("onnxruntime-node WebGPU EP", () => {
  const gpu = made.ok ? made.value : undefined;
  afterAll(async () => gpu?.close());
  it("LoRA steps with the base weights inside the session equal wasm's", async () => {
    const a = await loraSteps(wasm, false);
    const b = await loraSteps(gpu!, true);
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-5));
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
  });
});
