/**
 * KV-cache decoding on WebGPU in Node (Dawn; SwiftShader without a GPU): the caches stay in GPU
 * buffers (pre-allocated, ping-ponged on the web build; new outputs, the old disposed, on
 * onnxruntime-node's EP) and the tokens equal a full recompute on wasm. Skipped with a banner when
 * there is no adapter (fails with GPU_TRAINER_REQUIRE_WEBGPU=1).
 */
import { afterAll, describe, expect, it } from "vitest";
import { createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine, type Engine } from "@iopo/graph";
import { Generator } from "../src/generate/index.ts";
import { PROMPTS, peaky, recomputeGreedy } from "./generate-helpers.ts";
import { skipBanner, tryEngine } from "@iopo/graph/testing";

const made = await tryEngine(() => createWebGpuNodeEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("WebGPU generation tests", made.reason);
}
const engine = made.ok ? made.value : undefined;
afterAll(async () => engine?.close());

async function greedyEqualsRecompute(e: Engine, name: string) {
  const m = peaky(name, 3);
  const prompts = PROMPTS(m.tokenizer).slice(0, 2);
  const steps = 6;
  const gen = await Generator.create({ engine: e, config: m.config, weights: m.weights });
  const out = await gen.generate(prompts, { maxNewTokens: steps, batchSize: 2 });
  await gen.dispose();
  const wasm = await createWasmEngine();
  for (let i = 0; i < prompts.length; i++) expect(out[i].tokens).toEqual((await recomputeGreedy(wasm, m, prompts[i], steps)).tokens);
  await wasm.close();
}

describe.skipIf(!engine)(`generation on WebGPU: ${engine?.description ?? "unavailable"}`, () => {
  it.each(["llama", "qwen2"])("tiny:%s greedy tokens equal a full recompute on wasm", (name) => greedyEqualsRecompute(engine!, name));
});

const native = engine ? await tryEngine(() => createNodeWebGpuEngine()) : undefined;
const nativeEngine = native?.ok ? native.value : undefined;
afterAll(async () => nativeEngine?.close());
describe.skipIf(!nativeEngine)("generation on onnxruntime-node's WebGPU EP", () => {
  it("tiny:llama greedy tokens equal a full recompute on wasm (caches on the GPU)", () => greedyEqualsRecompute(nativeEngine!, "llama"));
});
