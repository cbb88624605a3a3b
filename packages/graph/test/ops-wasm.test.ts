import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmEngine } from "../src/engine/ort.ts";
import type { Engine } from "../src/engine/types.ts";
import { CASES } from "./cases.ts";
import { checkCase } from "./helpers.ts";

let engine: Engine;
beforeAll(async () => {
  engine = await createWasmEngine();
});
afterAll(async () => engine?.close());

describe("ORT wasm equals the float64 interpreter (outputs and gradients, fp32 tolerance)", () => {
  for (const key of Object.keys(CASES)) {
    it(key, async () => {
      const errs = await checkCase(engine, key, 1);
      for (const [n, e] of Object.entries(errs)) expect(e, `${key}.${n}`).toBeLessThan(2e-5);
    });
  }
});

describe("opset 18 emission (reduce axes as inputs) on wasm", () => {
  for (const key of ["ReduceMean", "ReduceMax", "ReduceSum", "Split", "RmsNorm", "AttentionSymbolic"]) {
    it(key, async () => {
      const errs = await checkCase(engine, key, 2, 18);
      for (const [n, e] of Object.entries(errs)) expect(e, `${key}.${n}`).toBeLessThan(2e-5);
    });
  }
});
