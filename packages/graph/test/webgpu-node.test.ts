/**
 * onnxruntime-web's WebGPU EP in Node (Dawn). Without a GPU this runs on SwiftShader
 * (Debian: apt-get install -y chromium libvulkan1). Sessions are created with
 * disable_cpu_ep_fallback, so any op that would leave the GPU fails the test.
 * No adapter: the suite is skipped with a printed reason, or fails if GPU_TRAINER_REQUIRE_WEBGPU=1.
 */
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../src/graph/compile.ts";
import { Graph } from "../src/graph/graph.ts";
import { createWebGpuNodeEngine, createWasmEngine } from "../src/engine/ort.ts";
import { CASES } from "./cases.ts";
import { checkCase, skipBanner, tryEngine } from "./helpers.ts";
import { runTrainerSteps, TRAINER_MODELS } from "./trainer-helpers.ts";

const made = await tryEngine(() => createWebGpuNodeEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
  skipBanner("WebGPU in Node (Dawn) tests", made.reason);
}
const engine = made.ok ? made.value : undefined;
afterAll(async () => engine?.close());

describe.skipIf(!engine)(`WebGPU in Node: ${engine?.description ?? "unavailable"}`, () => {
  it("an op that would fall back to the CPU is an error (fallback disabled)", async () => {
    const g = new Graph();
    const a = g.input("a", "int64", [4]);
    const m = compile({ y: g.add(a, a) });
    await expect(engine!.createSession(m)).rejects.toThrow();
  });

  const keys = Object.keys(CASES).filter((k) => k !== "Cast"); // float64 does not exist on WebGPU
  it(`every op and its gradient matches the interpreter (${keys.length} graphs)`, async () => {
    const bad: string[] = [];
    for (const key of keys) {
      const errs = await checkCase(engine!, key, 1);
      for (const [n, e] of Object.entries(errs)) if (!(e < 2e-5)) bad.push(`${key}.${n}: ${e}`);
    }
    expect(bad).toEqual([]);
  });

  it("gradient accumulation on the GPU (accumulators ping-pong in pre-allocated buffers) equals wasm", async () => {
    const spec = TRAINER_MODELS.mlp;
    const batches = [spec.batches.flat().slice(0, 2), spec.batches.flat().slice(2, 4)];
    const a = await runTrainerSteps(await createWasmEngine(), { ...spec, batches }, { gradAccumulation: 2 });
    const b = await runTrainerSteps(engine!, { ...spec, batches }, { gradAccumulation: 2 });
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-5));
    expect(a.maxParamDiff(b)).toBeLessThan(1e-5);
  });

  for (const [name, spec] of Object.entries(TRAINER_MODELS)) {
    it(`trainer steps on ${name} equal wasm (params on the GPU between steps)`, async () => {
      const wasm = await createWasmEngine();
      const ref = await runTrainerSteps(wasm, spec);
      const got = await runTrainerSteps(engine!, spec);
      expect(got.losses.length).toBe(ref.losses.length);
      got.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
      expect(got.maxParamDiff(ref)).toBeLessThan(1e-5);
    });
  }
});
