/**
 * onnxruntime-node's CPU EP against the interpreter and wasm. Without an onnxruntime-node build
 * for this platform the suite is skipped with a printed reason, or fails with
 * GPU_TRAINER_REQUIRE_NODE_CPU=1 (CI sets it).
 */
import { afterAll, describe, expect, it } from "vitest";
import { createNodeCpuEngine, createWasmEngine } from "../src/engine/ort.ts";
import { CASES } from "./cases.ts";
import { checkCase, skipBanner, tryEngine } from "./helpers.ts";
import { TRAINER_MODELS, runTrainerSteps } from "./trainer-helpers.ts";

const made = await tryEngine(() => createNodeCpuEngine());
if (!made.ok) {
  if (process.env.GPU_TRAINER_REQUIRE_NODE_CPU === "1") throw new Error(`onnxruntime-node CPU required but unavailable: ${made.reason}`);
  skipBanner("onnxruntime-node CPU engine tests", made.reason);
}
const engine = made.ok ? made.value : undefined;
afterAll(async () => engine?.close());

describe.skipIf(!engine)("onnxruntime-node CPU engine", () => {
  it("every op and gradient matches the interpreter", async () => {
    const bad: string[] = [];
    for (const key of Object.keys(CASES)) {
      const errs = await checkCase(engine!, key, 2);
      for (const [n, e] of Object.entries(errs)) if (!(e < 2e-5)) bad.push(`${key}.${n}: ${e}`);
    }
    expect(bad).toEqual([]);
  });
  for (const [name, spec] of Object.entries(TRAINER_MODELS)) {
    it(`trainer steps on ${name} equal wasm`, async () => {
      const wasm = await createWasmEngine();
      const a = await runTrainerSteps(wasm, spec);
      const b = await runTrainerSteps(engine!, spec);
      a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-5));
      expect(a.maxParamDiff(b)).toBeLessThan(1e-5);
    });
  }
});
