/**
 * Paper-scale memory: the vocabulary head in chunks equals the whole-logits head (values and
 * gradients, tied and untied heads, on the float64 interpreter and on onnxruntime), and its
 * largest tensor shrinks with the chunk; layers recomputed in the backward pass give the same
 * gradients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Engine, Graph, type HostTensor, Trainer, createWasmEngine, evaluate, grad, largestIntermediate } from "@iopo/graph";
import type { Model } from "../src/model/index.ts";
import {
  type LinearModule,
  type ModelWeights,
  declareParams,
  joinVocabParams,
  decoderLabelLogProbs,
  linearShape,
  loraNames,
  sequenceLogProbs,
} from "../src/model/decoder.ts";
import { collate, encodeExample } from "../src/train/batch.ts";
import { declareBatchInputs, trainingModel } from "../src/train/graphs.ts";
import { toyQuadruples, variantModel } from "./iopo-helpers.ts";

let wasm: Engine;
beforeAll(async () => {
  wasm = await createWasmEngine();
});
afterAll(async () => {
  await wasm?.close();
});

/** One IOPO batch of the toy quadruples (4 rows per example, padded). */
function batchOf(m: Model, examples = 1): Record<string, HostTensor> {
  const enc = toyQuadruples(examples, 1).map((q) => encodeExample(m.tokenizer, q, "iopo", 40));
  return collate(enc, m.config, m.tokenizer.padTokenId).feeds;
}

// 1,660-token vocabulary: 500-column chunks give three full chunks and a ragged one
const CHUNK = 500;
const HEADS: [string, Model][] = [
  ["untied lm_head [D, V] (Llama)", variantModel("llama", { num_hidden_layers: 1 })],
  ["tied embedding [V, D] (Qwen2)", variantModel("qwen2", { num_hidden_layers: 1 })],
];

describe("the vocabulary head in chunks = the whole logits", () => {
  for (const [name, m] of HEADS)
    it(`${name}: log-probs and every parameter's gradient, float64 interpreter`, () => {
      const feeds = batchOf(m);
      const run = (vocabChunk: number) => {
        const g = new Graph();
        const inp = declareBatchInputs(g, m.config, 4);
        const p = declareParams(g, m.config, m.weights, { trainable: true });
        const tokens = decoderLabelLogProbs(p, inp, inp.labels, { vocabChunk });
        const logps = sequenceLogProbs(tokens, inp.lossMask);
        // a loss weighting rows unequally, so each row's gradient matters
        const loss = g.reduceSum(g.mul(logps, g.input("coef", "float32", ["4*B"])));
        const grads = grad(loss, g.params);
        const rows = feeds.ids.shape[0];
        const coef = { dtype: "float32", shape: [rows], data: Float64Array.from({ length: rows }, (_, i) => (i % 3) - 0.7) };
        const vals = evaluate([logps, ...grads], { feeds: { ...feeds, coef } as never });
        return {
          logps: vals[0].data,
          grads: new Map(g.params.map((t, i) => [t.name!, vals[i + 1].data])),
          largest: largestIntermediate([logps], { B: 1, T: feeds.ids.shape[1] }),
        };
      };
      const whole = run(0);
      const chunked = run(CHUNK);
      expect(Math.min(...whole.logps)).toBeLessThan(-50); // peaked softmax: the running max moves between chunks
      whole.logps.forEach((v, i) => expect(Math.abs(chunked.logps[i] - v)).toBeLessThan(1e-9 * Math.abs(v)));
      for (const [param, want] of whole.grads) {
        const got = chunked.grads.get(param)!;
        let scale = 0;
        let err = 0;
        for (let i = 0; i < want.length; i++) {
          scale = Math.max(scale, Math.abs(want[i]));
          err = Math.max(err, Math.abs(got[i] - want[i]));
        }
        expect(scale, param).toBeGreaterThan(0);
        expect(err, param).toBeLessThan(1e-9 * scale);
      }
      // the forward's largest tensor: the [rows*T, V] logits, then one [rows*T, 500] chunk
      expect(whole.largest.bytes).toBe(feeds.ids.data.length * 1660 * 4);
      expect(chunked.largest.bytes).toBe(feeds.ids.data.length * CHUNK * 4);
    });

  it("IOPO steps on wasm (fp32): LoRA under an untied head, full fine-tuning of a tied one, chunked = whole", async () => {
    for (const [mode, m] of [
      ["lora", HEADS[0][1]],
      ["full", HEADS[1][1]],
    ] as const) {
      const feeds = batchOf(m);
      const rows = feeds.ids.shape[0];
      const refLogps = { dtype: "float32" as const, shape: [rows], data: new Float32Array(rows).fill(-30) };
      const run = async (vocabChunk: number) => {
        const tr = await Trainer.create({
          engine: wasm,
          model: trainingModel({
            method: "iopo",
            config: m.config,
            weights: m.weights,
            lora: mode === "lora" ? { rank: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"] } : undefined,
            seed: 1,
            loss: { beta: 0.1 },
            reference: "cache",
            vocabChunk,
          }),
          // AdamW's eps well above fp32 noise: the first step divides each gradient by its own size,
          // which would turn rounding in near-zero gradients (cancelling softmax terms) into lr-sized moves
          lr: 1e-2,
          eps: 1e-2,
        });
        const losses: number[] = [];
        for (let i = 0; i < 3; i++) losses.push((await tr.step({ ...feeds, ref_logps: refLogps })).loss);
        const params = await tr.getParams();
        await tr.dispose();
        return { losses, params };
      };
      const whole = await run(0);
      const chunked = await run(CHUNK);
      expect(whole.losses[2]).not.toBeCloseTo(whole.losses[0], 3); // the steps moved the weights
      chunked.losses.forEach((l, i) => expect(Math.abs(l - whole.losses[i]), `${mode} loss ${i}`).toBeLessThan(1e-5));
      // full fine-tuning holds the embedding in vocabulary chunks: compare the joined weight
      const joined = joinVocabParams(m.config, new Map(Object.entries(chunked.params).map(([n, t]) => [n, t.data as Float32Array])));
      expect(Object.keys(chunked.params).some((n) => n.includes(".vocab"))).toBe(mode === "full");
      for (const [name, t] of Object.entries(whole.params)) {
        const a = t.data as Float32Array;
        const b = joined.get(name)!;
        let err = 0;
        for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
        expect(err, `${mode} ${name}`).toBeLessThan(1e-5);
      }
    }
  });
});

/** Largest |a - b| over b's scale (max |b|), or the error itself where b is all zeros. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  return scale ? err / scale : err;
}

describe("--recompute: layers recomputed in the backward pass", () => {
  const m = variantModel("llama", {
    num_hidden_layers: 2,
    hidden_size: 32,
    intermediate_size: 48,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  });
  const feeds = batchOf(m);
  const targets: LinearModule[] = ["q_proj", "v_proj", "up_proj"];
  // B nonzero (PEFT starts it at zero), so that A's gradients are not zero too
  const loraInit: ModelWeights = new Map();
  for (let l = 0; l < 2; l++)
    for (const t of targets)
      loraInit.set(
        loraNames(l, t).b,
        Float32Array.from({ length: 4 * linearShape(m.config, t)[1] }, (_, i) => Math.sin(i + l) / 10),
      );

  for (const lora of [false, true])
    it(`the same log-probs and gradients (${lora ? "LoRA adapters" : "every weight"}), float64 interpreter`, () => {
      const run = (recompute: boolean) => {
        const g = new Graph();
        const inp = declareBatchInputs(g, m.config, 4);
        const p = declareParams(g, m.config, m.weights, {
          trainable: !lora,
          lora: lora ? { rank: 4, alpha: 8, targets } : undefined,
          loraInit,
          seed: 2,
        });
        const logps = sequenceLogProbs(decoderLabelLogProbs(p, inp, inp.labels, { recompute, vocabChunk: CHUNK }), inp.lossMask);
        const wrt = g.params.filter((t) => t.trainable);
        const grads = grad(g.reduceSum(g.mul(logps, logps)), wrt);
        const vals = evaluate([logps, ...grads], { feeds: feeds as never });
        return { logps: vals[0].data, grads: vals.slice(1).map((v) => v.data), names: wrt.map((t) => t.name!) };
      };
      const kept = run(false);
      const recomputed = run(true);
      expect(relErr(recomputed.logps, kept.logps)).toBeLessThan(1e-12);
      kept.grads.forEach((want, i) => {
        expect(Math.max(...Array.from(want, Math.abs)), kept.names[i]).toBeGreaterThan(0);
        expect(relErr(recomputed.grads[i], want), kept.names[i]).toBeLessThan(1e-12);
      });
    });

  it("IOPO LoRA steps on wasm (fp32): losses and adapters equal without and with --recompute", async () => {
    const rows = feeds.ids.shape[0];
    const refLogps = { dtype: "float32" as const, shape: [rows], data: new Float32Array(rows).fill(-30) };
    const run = async (recompute: boolean) => {
      const tr = await Trainer.create({
        engine: wasm,
        model: trainingModel({
          method: "iopo",
          config: m.config,
          weights: m.weights,
          lora: { rank: 4, alpha: 8, targets },
          loraInit,
          seed: 1,
          loss: { beta: 0.1 },
          reference: "cache",
          recompute,
        }),
        lr: 1e-2,
        eps: 1e-2,
      });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) losses.push((await tr.step({ ...feeds, ref_logps: refLogps })).loss);
      const params = await tr.getParams();
      await tr.dispose();
      return { losses, params };
    };
    const kept = await run(false);
    const recomputed = await run(true);
    expect(kept.losses[2]).not.toBeCloseTo(kept.losses[0], 3);
    recomputed.losses.forEach((l, i) => expect(Math.abs(l - kept.losses[i])).toBeLessThan(1e-6));
    for (const [name, t] of Object.entries(kept.params))
      expect(relErr(recomputed.params[name].data as Float32Array, t.data as Float32Array), name).toBeLessThan(1e-6);
  });
});

describe("--precision fp16: frozen weights stored in fp16", () => {
  it("a LoRA base in fp16 takes half the bytes and trains as the fp32 base cast at each use (wasm)", async () => {
    const m = HEADS[1][1];
    const feeds = batchOf(m);
    const rows = feeds.ids.shape[0];
    const refLogps = { dtype: "float32" as const, shape: [rows], data: new Float32Array(rows).fill(-30) };
    const run = async (frozenDtype?: "float32") => {
      const tr = await Trainer.create({
        engine: wasm,
        model: trainingModel({
          method: "iopo",
          config: m.config,
          weights: m.weights,
          lora: { rank: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"] },
          seed: 1,
          loss: { beta: 0.1 },
          reference: "cache",
          computeDtype: "float16",
          frozenDtype,
        }),
        lossScaling: {},
        lr: 1e-2,
      });
      const frozenBytes = tr.frozenParams.reduce((s, p) => s + p.data!.byteLength, 0);
      const dtypes = new Set(tr.frozenParams.map((p) => p.dtype));
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) losses.push((await tr.step({ ...feeds, ref_logps: refLogps })).loss);
      await tr.dispose();
      return { frozenBytes, dtypes, losses };
    };
    const cast = await run("float32");
    const stored = await run();
    expect([...cast.dtypes]).toEqual(["float32"]);
    expect([...stored.dtypes]).toEqual(["float16"]);
    expect(stored.frozenBytes).toBe(cast.frozenBytes / 2);
    expect(cast.losses[2]).not.toBeCloseTo(cast.losses[0], 3);
    // to fp16 rounding (onnxruntime's CPU kernels run fp16 nodes in fp32 and drop Cast pairs, where
    // they do differs between the two graphs), which AdamW's steps then amplify
    expect(Math.abs(stored.losses[0] - cast.losses[0])).toBeLessThan(1e-3 * cast.losses[0]);
    stored.losses.forEach((l, i) => expect(Math.abs(l - cast.losses[i])).toBeLessThan(2e-2 * cast.losses[i]));
  });
});
