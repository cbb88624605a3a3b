/**
 * 16-bit checkpoints stay 16-bit: a fp16 or bf16 base is held on the host as fp16 bits (at the
 * checkpoint's size, not twice it), declared float16 where it does not train, and a LoRA run from
 * it follows the run from the same checkpoint widened to fp32; saving writes fp16 weights as F16.
 * On an engine without fp16 (WebGPU on SwiftShader: no shader-f16) the base is widened for the device.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Engine, Trainer, createNodeWebGpuEngine, createWasmEngine } from "@iopo/graph";
import { tryEngine } from "@iopo/graph/testing";
import { type Model, loadModel } from "../src/model/index.ts";
import { asF32 } from "../src/model/decoder.ts";
import { SafetensorsFile, bf16ToF16InPlace, writeSafetensors } from "../src/model/safetensors.ts";
import { saveHfModel } from "../src/model/weights.ts";
import { buildDecodeGraph } from "../src/generate/decode-graph.ts";
import { Generator } from "../src/generate/generator.ts";
import { collate, encodeExample } from "../src/train/batch.ts";
import { ONNX_EXTERNAL_DATA, exportCheckpoint } from "../src/train/export.ts";
import { LogprobRunner, trainingModel } from "../src/train/graphs.ts";
import { type TrainOptions, train } from "../src/train/train.ts";
import { datasetOf, toyQuadruples, variantModel } from "./iopo-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "iopo-half-"));
let wasm: Engine;
const engines: Engine[] = [];
beforeAll(async () => {
  wasm = await createWasmEngine();
});
afterAll(async () => {
  await wasm?.close();
  for (const e of engines) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

const source = variantModel("qwen2", { num_hidden_layers: 1 }); // tied head, qkv biases
const paramCount = [...source.weights.values()].reduce((s, w) => s + w.length, 0);

/** `source` written as a `dtype` checkpoint, loaded as it is and widened to fp32. */
async function checkpoint(dtype: "F16" | "BF16"): Promise<{ half: Model; widened: Model }> {
  const path = join(dir, dtype);
  await saveHfModel(path, source.config, source.weights, { dtype, tokenizer: source.tokenizer });
  return { half: await loadModel(path), widened: await loadModel(path, { widen: true }) };
}

/** Three IOPO LoRA steps (fp32 compute; wasm unless given): losses, and the frozen params as declared. */
async function loraSteps(m: Model, engine = wasm) {
  const enc = toyQuadruples(1, 1).map((q) => encodeExample(m.tokenizer, q, "iopo", 40));
  const { feeds } = collate(enc, m.config, m.tokenizer.padTokenId);
  const rows = feeds.ids.shape[0];
  const tr = await Trainer.create({
    engine,
    model: trainingModel({
      method: "iopo",
      config: m.config,
      weights: m.weights,
      lora: { rank: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"] },
      seed: 1,
      loss: { beta: 0.1 },
      reference: "cache",
      float16: engine.float16,
    }),
    lr: 1e-2,
    eps: 1e-2,
  });
  const frozen = tr.frozenParams.map((p) => ({ dtype: p.dtype, bytes: p.data!.byteLength }));
  const losses: number[] = [];
  const refLogps = { dtype: "float32" as const, shape: [rows], data: new Float32Array(rows).fill(-30) };
  for (let i = 0; i < 3; i++) losses.push((await tr.step({ ...feeds, ref_logps: refLogps })).loss);
  await tr.dispose();
  return { frozen, losses };
}

describe("16-bit checkpoints", () => {
  for (const dtype of ["F16", "BF16"] as const)
    it(`${dtype}: the host holds 2 bytes a weight; a LoRA run's losses equal the widened checkpoint's`, async () => {
      const { half, widened } = await checkpoint(dtype);
      const hostBytes = (m: Model) => [...m.weights.values()].reduce((s, w) => s + w.byteLength, 0);
      expect([...half.weights.values()].every((w) => w instanceof Uint16Array)).toBe(true);
      expect(hostBytes(half)).toBe(2 * paramCount);
      expect(hostBytes(widened)).toBe(4 * paramCount);
      // the same values: fp16 widens exactly; bf16 converts to fp16 exactly above 2^-14, and the
      // N(0, 0.02)-scaled weights below it (a few) keep fewer bits
      for (const [name, w] of half.weights) {
        const a = asF32(w);
        const b = widened.weights.get(name) as Float32Array;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), name).toBeLessThanOrEqual(dtype === "F16" ? 0 : 2 ** -24);
      }
      const fromHalf = await loraSteps(half);
      const fromWidened = await loraSteps(widened);
      expect(new Set(fromHalf.frozen.map((p) => p.dtype))).toEqual(new Set(["float16"]));
      expect(fromHalf.frozen.reduce((s, p) => s + p.bytes, 0)).toBe(2 * paramCount);
      expect(fromWidened.frozen.reduce((s, p) => s + p.bytes, 0)).toBe(4 * paramCount);
      expect(fromHalf.losses[2]).not.toBeCloseTo(fromHalf.losses[0], 3); // the steps moved the adapters
      // fp32 compute on both sides: the Cast of a fp16 weight to fp32 is exact
      fromHalf.losses.forEach((l, i) => expect(Math.abs(l - fromWidened.losses[i]), `loss ${i}`).toBeLessThan(1e-5 * Math.abs(l)));
    });

  it("an engine without fp16 gets the base widened to fp32 and trains as wasm does (onnxruntime-node WebGPU)", async (ctx) => {
    const made = await tryEngine(() => createNodeWebGpuEngine());
    if (!made.ok) {
      if (process.env.GPU_TRAINER_REQUIRE_WEBGPU === "1") throw new Error(`WebGPU required but unavailable: ${made.reason}`);
      return ctx.skip();
    }
    const gpu = made.value;
    engines.push(gpu);
    const { half } = await checkpoint("F16");
    // SwiftShader has no shader-f16; a hardware adapter has it, and then the base stays fp16
    if (gpu.software) expect(gpu.float16).toBe(false);
    const onGpu = await loraSteps(half, gpu);
    const onWasm = await loraSteps(half);
    expect(new Set(onGpu.frozen.map((p) => p.dtype))).toEqual(new Set([gpu.float16 ? "float16" : "float32"]));
    onGpu.losses.forEach((l, i) => expect(Math.abs(l - onWasm.losses[i]), `loss ${i}`).toBeLessThan(1e-5 * Math.abs(l)));
  });

  it("reference log-probs (LogprobRunner) from a fp16 base equal the widened checkpoint's (wasm)", async () => {
    const { half, widened } = await checkpoint("F16");
    const enc = toyQuadruples(2, 1).map((q) => encodeExample(half.tokenizer, q, "iopo", 40));
    const { feeds } = collate(enc, half.config, half.tokenizer.padTokenId);
    const logps = async (m: Model) => {
      const runner = await LogprobRunner.create(wasm, m.config, m.weights);
      const out = await runner.run(feeds);
      await runner.dispose();
      return Array.from(out);
    };
    const a = await logps(half);
    const b = await logps(widened);
    expect(Math.min(...b)).toBeLessThan(-1);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-5 * Math.abs(b[i])));
  });

  it("iopo-train from a fp16 folder (LoRA, cached reference): the widened model's losses; its merged export keeps F16 and loads with external data", async () => {
    const { widened } = await checkpoint("F16");
    const run = (model: string | Model, name: string) =>
      train({
        model,
        data: datasetOf(toyQuadruples(4)),
        method: "iopo",
        out: join(dir, name),
        cacheDir: join(dir, `cache-${name}`),
        engine: wasm,
        maxSteps: 3,
        batchSize: 2,
        gradAccum: 1,
        lr: 1e-2,
        log: () => {},
        progress: "none",
      } as TrainOptions);
    const a = await run(join(dir, "F16"), "from-folder");
    const b = await run(widened, "from-widened");
    const losses = (r: typeof a) => r.metrics.map((m) => m.loss as number);
    expect(losses(a)).toHaveLength(3);
    losses(a).forEach((l, i) => expect(Math.abs(l - losses(b)[i]), `loss ${i}`).toBeLessThan(1e-5 * Math.abs(l)));
    expect((await SafetensorsFile.open(join(a.checkpoint, "adapter_model.safetensors"))).names.length).toBeGreaterThan(0);

    // merged export: the base's untouched tensors stay F16; the ONNX graph's weights in external data
    const out = join(dir, "merged");
    const e = await exportCheckpoint({ checkpoint: a.checkpoint, out, mergeLora: true, onnx: true, onnxExternalData: true });
    expect(e.files).toContain(ONNX_EXTERNAL_DATA);
    const merged = await SafetensorsFile.open(join(out, "model.safetensors"));
    expect(merged.header.tensors["model.norm.weight"].dtype).toBe("F16");
    expect(merged.header.tensors["model.layers.0.self_attn.q_proj.weight"].dtype).toBe("F32"); // base + adapter
    const web = await import("onnxruntime-web");
    const session = await web.InferenceSession.create(readFileSync(join(out, "model.onnx")), {
      executionProviders: ["wasm"],
      externalData: [{ path: ONNX_EXTERNAL_DATA, data: readFileSync(join(out, ONNX_EXTERNAL_DATA)) }],
    });
    const i32 = (v: number[]) => new web.Tensor("int32", Int32Array.from(v), [1, v.length]);
    const r = await session.run({ input_ids: i32([3, 17, 42]), attention_mask: i32([1, 1, 1]), position_ids: i32([0, 1, 2]) });
    expect(r.logits.dims).toEqual([1, 3, source.config.vocabSize]);
    expect((r.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it("generation from a fp16 base: float16 params, the widened checkpoint's logits (prefill and a step, wasm)", async () => {
    const { half, widened } = await checkpoint("F16");
    expect(new Set(buildDecodeGraph(half.config, half.weights).graph.params.map((p) => p.dtype))).toEqual(new Set(["float16"]));
    const decode = async (m: Model) => {
      const gen = await Generator.create({ engine: wasm, config: m.config, weights: m.weights });
      const batch = await gen.openBatch([[3, 17, 42, 5]], 2);
      const prefill = await batch.prefill();
      const step = await batch.step(Int32Array.from([9]), [true]);
      batch.close();
      await gen.dispose();
      return [...prefill, ...step];
    };
    const a = await decode(half);
    const b = await decode(widened);
    expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(0.1);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-4 * (1 + Math.abs(b[i]))));
  });

  it("saving writes fp16 weights as F16, the bytes they were loaded from", async () => {
    const { half } = await checkpoint("F16");
    const out = join(dir, "resaved");
    await saveHfModel(out, half.config, half.weights);
    const a = await SafetensorsFile.open(join(dir, "F16", "model.safetensors"));
    const b = await SafetensorsFile.open(join(out, "model.safetensors"));
    for (const name of a.names) {
      expect(b.header.tensors[name].dtype, name).toBe("F16");
      expect(Buffer.from(await b.readRaw(name)).equals(Buffer.from(await a.readRaw(name))), name).toBe(true);
    }
  });

  it("a bf16 tensor past fp16's range is widened to fp32 instead of turning into infinities", async () => {
    const bits = new Uint16Array([0x3f80, 0x4780 /* 65536 */, 0xc000]);
    expect(bf16ToF16InPlace(bits.slice())).toBeUndefined();
    expect(Array.from(bf16ToF16InPlace(new Uint16Array([0x3f80, 0xc000, 0x7f80]))!)).toEqual([0x3c00, 0xc000, 0x7c00]); // 1, -2, inf
    const path = join(dir, "wide.safetensors");
    // a bf16 file written by hand: 1, 65536 and -2 need no rounding
    await writeSafetensors(path, { x: { shape: [3], data: new Float32Array([1, 65536, -2]) } }, { dtype: "BF16" });
    const t = await (await SafetensorsFile.open(path)).readWeight("x");
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data)).toEqual([1, 65536, -2]);
  });
});
