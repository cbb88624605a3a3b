/**
 * The IOPO trainer on onnxruntime-web's WebGPU EP in Node (Dawn; SwiftShader without a GPU), CPU
 * fallback disabled: the decoder, the losses, LoRA and full fine-tuning run on the GPU and agree
 * with wasm. Tiny on purpose (SwiftShader runs at well under 1 GFLOP/s). Skipped with a printed
 * reason without an adapter, or failed with GPU_TRAINER_REQUIRE_WEBGPU=1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Trainer, createWasmEngine, createWebGpuNodeEngine, type Engine } from "@iopo/graph";
import { joinVocabParams } from "../src/model/decoder.ts";
import { SafetensorsFile } from "../src/model/safetensors.ts";
import { collate, encodeExample } from "../src/train/batch.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";
import { type TrainOptions, train } from "../src/train/train.ts";
import { skipBanner, tryEngine } from "@iopo/graph/testing";
import { createTinyModel, datasetOf, toyQuadruples } from "./iopo-helpers.ts";

const made = await tryEngine(() => createWebGpuNodeEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("IOPO trainer on WebGPU in Node (Dawn)", made.reason);
}
const gpu = made.ok ? made.value : undefined;
const dir = mkdtempSync(join(tmpdir(), "iopo-webgpu-"));
let wasm: Engine | undefined;
afterAll(async () => {
  await gpu?.close();
  await wasm?.close();
  rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
function run(engine: Engine, o: Partial<TrainOptions>) {
  return train({
    model: createTinyModel("micro", 2),
    data: datasetOf(toyQuadruples(4)),
    method: "iopo",
    out: join(dir, `run${runs++}`),
    engine,
    log: () => {},
    progress: "none",
    cacheDir: join(dir, `cache-${engine.kind}`),
    maxLength: 40,
    batchSize: 2,
    gradAccum: 1,
    lr: 5e-3,
    ...o,
  } as TrainOptions);
}

async function maxDiff(a: string, b: string, file: string): Promise<number> {
  const fa = await SafetensorsFile.open(join(a, file));
  const fb = await SafetensorsFile.open(join(b, file));
  let d = 0;
  for (const n of fa.names) {
    const x = (await fa.readF32(n)).data;
    const y = (await fb.readF32(n)).data;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

describe.skipIf(!gpu)(`IOPO trainer on WebGPU: ${gpu?.description ?? "unavailable"}`, () => {
  it("summed log-probs of the decoder equal wasm's", async () => {
    wasm ??= await createWasmEngine();
    const m = createTinyModel("micro", 5);
    const enc = toyQuadruples(2).map((q) => encodeExample(m.tokenizer, q, "iopo", 40));
    const feeds = collate(enc, m.config, m.tokenizer.padTokenId).feeds;
    const lp = async (e: Engine) => {
      const r = await LogprobRunner.create(e, m.config, m.weights);
      const v = Array.from(await r.run(feeds));
      await r.dispose();
      return v;
    };
    const [a, b] = [await lp(wasm), await lp(gpu!)];
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-3));
  });

  it("IOPO with LoRA (cached reference): ln 2 at step 0, then the same steps as wasm", async () => {
    wasm ??= await createWasmEngine();
    const a = await run(wasm, { maxSteps: 3 });
    const b = await run(gpu!, { maxSteps: 3 });
    expect(Math.abs(b.metrics[0].loss - Math.LN2)).toBeLessThan(2e-6);
    b.metrics.forEach((r, i) => expect(Math.abs(r.loss - a.metrics[i].loss)).toBeLessThan(1e-5));
    expect(await maxDiff(a.checkpoint, b.checkpoint, "adapter_model.safetensors")).toBeLessThan(1e-5);
  });

  it("full fine-tuning, reference on the fly, gradient accumulation 2: the same steps as wasm", async () => {
    wasm ??= await createWasmEngine();
    const o = { maxSteps: 2, full: true, ref: "on-the-fly" as const, batchSize: 1, gradAccum: 2, method: "dpo" as const };
    const a = await run(wasm, o);
    const b = await run(gpu!, o);
    expect(Math.abs(b.metrics[0].loss - Math.LN2)).toBeLessThan(2e-6);
    b.metrics.forEach((r, i) => expect(Math.abs(r.loss - a.metrics[i].loss)).toBeLessThan(1e-5));
    // AdamW divides by sqrt(v): summation-order noise in near-zero gradients moves a weight by a
    // small fraction of lr (5e-3) per step; 2 steps
    expect(await maxDiff(a.checkpoint, b.checkpoint, "model.safetensors")).toBeLessThan(1e-4);
  });

  it("full fine-tuning with the embedding in vocabulary-chunk parameters (masked gathers): the same steps as wasm", async () => {
    wasm ??= await createWasmEngine();
    const m = createTinyModel("micro", 6);
    const enc = toyQuadruples(2).map((q) => encodeExample(m.tokenizer, q, "iopo", 40));
    const feeds = collate(enc, m.config, m.tokenizer.padTokenId).feeds;
    const steps = async (engine: Engine) => {
      const model = trainingModel({
        method: "iopo",
        config: m.config,
        weights: m.weights,
        seed: 0,
        loss: { beta: 0.1 },
        reference: "on-the-fly",
        vocabChunk: 600,
      });
      const t = await Trainer.create({ engine, model, lr: 5e-3 });
      expect(t.trainable.filter((p) => p.name!.includes(".vocab"))).toHaveLength(6); // embedding and untied head, 3 each
      const losses = [(await t.step(feeds)).loss, (await t.step(feeds)).loss];
      const params = await t.getParams();
      await t.dispose();
      return { losses, embed: joinVocabParams(m.config, new Map(Object.entries(params).map(([n, p]) => [n, p.data as Float32Array]))) };
    };
    const [a, b] = [await steps(wasm), await steps(gpu!)];
    b.losses.forEach((l, i) => expect(Math.abs(l - a.losses[i])).toBeLessThan(1e-5));
    const [x, y] = [a.embed.get("model.embed_tokens.weight")!, b.embed.get("model.embed_tokens.weight")!];
    let d = 0;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
    expect(d).toBeLessThan(1e-4);
  });
});
