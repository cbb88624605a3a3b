/**
 * onnxruntime-web in headless Chromium (playwright-core, /usr/bin/chromium or $CHROMIUM_PATH):
 * WebGPU (SwiftShader without a GPU) with CPU fallback disabled, and wasm in the page.
 * Skipped with a printed reason when Chromium or an adapter is missing (fails instead with
 * GPU_TRAINER_REQUIRE_WEBGPU=1).
 */
import { afterAll, describe, expect, it } from "vitest";
import { BrowserEngine } from "../src/engine/browser.ts";
import { createWasmEngine } from "../src/engine/ort.ts";
import { compile } from "../src/graph/compile.ts";
import { Graph } from "../src/graph/graph.ts";
import { checkCase, skipBanner, tryEngine } from "./helpers.ts";
import { TRAINER_MODELS, runTrainerSteps } from "./trainer-helpers.ts";

const made = await tryEngine(() => BrowserEngine.launch({ ep: "webgpu" }));
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU in Chromium required: ${made.reason}`);
  skipBanner("WebGPU in headless Chromium tests", made.reason);
}
const engine = made.ok ? made.value : undefined;
afterAll(async () => engine?.close());

describe.skipIf(!engine)(`Chromium: ${engine?.description ?? "unavailable"}`, () => {
  it("an op that would fall back to the CPU is an error", async () => {
    const g = new Graph();
    const a = g.input("a", "int64", [4]);
    await expect(engine!.createSession(compile({ y: g.add(a, a) }))).rejects.toThrow();
  });
  it("a sample of ops and gradients match the interpreter", async () => {
    const bad: string[] = [];
    for (const key of [
      "MatMulBatched",
      "GatherEmbedding",
      "GatherElementsLabels",
      "Softmax",
      "Slice",
      "Concat",
      "CausalMaskSymbolic",
      "RmsNorm",
    ]) {
      const errs = await checkCase(engine!, key, 3);
      for (const [n, e] of Object.entries(errs)) if (!(e < 2e-5)) bad.push(`${key}.${n}: ${e}`);
    }
    expect(bad).toEqual([]);
  });
  it("trainer steps on the attention block equal wasm (state stays in the page's GPU buffers)", async () => {
    const spec = TRAINER_MODELS.attention;
    const a = await runTrainerSteps(await createWasmEngine(), spec);
    const b = await runTrainerSteps(engine!, spec);
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-5));
    expect(a.maxParamDiff(b)).toBeLessThan(1e-5);
  });
  it("wasm in the page equals wasm in Node (gradient accumulation path)", async () => {
    const page = await BrowserEngine.launch({ ep: "wasm" });
    try {
      const spec = TRAINER_MODELS.mlp;
      const batches = [spec.batches.flat().slice(0, 2), spec.batches.flat().slice(2, 4)];
      const a = await runTrainerSteps(await createWasmEngine(), { ...spec, batches }, { gradAccumulation: 2 });
      const b = await runTrainerSteps(page, { ...spec, batches }, { gradAccumulation: 2 });
      expect(a.maxParamDiff(b)).toBeLessThan(1e-6);
    } finally {
      await page.close();
    }
  });
});
