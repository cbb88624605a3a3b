/**
 * ONNX external data: the inference export with its weights in model.onnx.data (forced here; a
 * real model goes there past protobuf's 2 GiB) loads in onnxruntime-node from the folder and in
 * onnxruntime-web from bytes, and gives the inlined export's logits; our engines load such a model.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Engine, createNodeCpuEngine, createWasmEngine } from "@iopo/graph";
import { tryEngine } from "@iopo/graph/testing";
import { loadModel } from "../src/model/index.ts";
import { saveHfModel } from "../src/model/weights.ts";
import { ONNX_EXTERNAL_DATA, inferenceOnnx, writeOnnx } from "../src/train/export.ts";
import { variantModel } from "./iopo-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "iopo-onnx-external-"));
const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

type Ort = typeof import("onnxruntime-web");
const T = 6;
const ids = [3, 17, 42, 5, 99, 8];
const feeds = (ort: Ort) => {
  const i32 = (v: number[]) => new ort.Tensor("int32", Int32Array.from(v), [1, T]);
  return { input_ids: i32(ids), attention_mask: i32(ids.map(() => 1)), position_ids: i32(ids.map((_, i) => i)) };
};

describe("ONNX external data", () => {
  it("the export with model.onnx.data loads in onnxruntime-node and -web and gives the inlined export's logits", async () => {
    // a 16-bit base: fp16 initializers, as a paper model's export has them
    const source = variantModel("llama", { num_hidden_layers: 1 });
    await saveHfModel(join(dir, "base"), source.config, source.weights, { dtype: "F16", tokenizer: source.tokenizer });
    const m = await loadModel(join(dir, "base"));
    const inlined = inferenceOnnx(m.config, m.weights, 64);
    const external = inferenceOnnx(m.config, m.weights, 64, { externalData: true });
    expect(inlined.externalData).toBeUndefined();
    const side = external.externalData!;
    expect(side.location).toBe(ONNX_EXTERNAL_DATA);
    // the weights left the protobuf: each big tensor's bytes once, in the side file
    const weightBytes = [...m.weights.values()].reduce((s, w) => s + w.byteLength, 0);
    expect(inlined.bytes.byteLength).toBeGreaterThan(weightBytes);
    expect(external.bytes.byteLength).toBeLessThan(inlined.bytes.byteLength - weightBytes + 64 * 1024);
    expect(side.byteLength).toBeGreaterThanOrEqual(weightBytes);

    const out = join(dir, "export");
    rmSync(out, { recursive: true, force: true });
    const { mkdir } = await import("node:fs/promises");
    await mkdir(out);
    expect(await writeOnnx(out, "model.onnx", external)).toEqual(["model.onnx", ONNX_EXTERNAL_DATA]);
    expect(statSync(join(out, ONNX_EXTERNAL_DATA)).size).toBe(side.byteLength);

    const web = (await import("onnxruntime-web")) as Ort;
    const want = (await (await web.InferenceSession.create(inlined.bytes, { executionProviders: ["wasm"] })).run(feeds(web))).logits;
    const fromBytes = await web.InferenceSession.create(readFileSync(join(out, "model.onnx")), {
      executionProviders: ["wasm"],
      externalData: [{ path: ONNX_EXTERNAL_DATA, data: readFileSync(join(out, ONNX_EXTERNAL_DATA)) }],
    });
    const got = (await fromBytes.run(feeds(web))).logits;
    expect(got.dims).toEqual([1, T, m.config.vocabSize]);
    expect(Math.max(...Array.from(want.data as Float32Array, Math.abs))).toBeGreaterThan(0.1);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));

    const node = await tryEngine(async () => (await import("onnxruntime-node")) as unknown as Ort);
    if (node.ok) {
      const fromFolder = await node.value.InferenceSession.create(join(out, "model.onnx"));
      const n = (await fromFolder.run(feeds(node.value))).logits.data as Float32Array;
      const w = want.data as Float32Array;
      n.forEach((v, i) => expect(Math.abs(v - w[i])).toBeLessThan(1e-4 * (1 + Math.abs(w[i]))));
    }
  });

  it("our engines load a model with external data (wasm from bytes, onnxruntime-node through a folder)", async () => {
    const m = variantModel("llama", { num_hidden_layers: 1 });
    const model = inferenceOnnx(m.config, m.weights, 64, { externalData: true });
    const candidates = [await tryEngine(() => createWasmEngine()), await tryEngine(() => createNodeCpuEngine())];
    const logits: Float32Array[] = [];
    for (const c of candidates) {
      if (!c.ok) continue;
      engines.push(c.value);
      const s = await c.value.createSession(model);
      const i32 = (v: number[]) => ({ dtype: "int32" as const, shape: [1, T], data: Int32Array.from(v) });
      const r = await s.run(
        { input_ids: i32(ids), attention_mask: i32(ids.map(() => 1)), position_ids: i32(ids.map((_, i) => i)) },
        { logits: "host" },
      );
      logits.push(r.host.logits.data as Float32Array);
      await s.release();
    }
    expect(logits.length).toBeGreaterThan(0);
    const web = (await import("onnxruntime-web")) as Ort;
    const inlined = inferenceOnnx(m.config, m.weights, 64);
    const want = (await (await web.InferenceSession.create(inlined.bytes, { executionProviders: ["wasm"] })).run(feeds(web))).logits
      .data as Float32Array;
    for (const got of logits) got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i]))));
  });
});
