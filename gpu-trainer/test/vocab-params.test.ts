/**
 * Full fine-tuning holds the embedding (and an untied head) as vocabulary-chunk parameters: the
 * steps equal the whole-tensor path, checkpoints hold the joined HF tensors, and a checkpoint whose
 * moments hold the embedding as one tensor (written before the chunks) resumes into the chunks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Engine, type HostTensor, Trainer, createWasmEngine } from "@iopo/graph";
import type { Model } from "../src/model/index.ts";
import { DEFAULT_VOCAB_CHUNK, type ModelWeights, type WeightData, joinVocabParams, paramShapes } from "../src/model/decoder.ts";
import { SafetensorsFile } from "../src/model/safetensors.ts";
import { collate, encodeExample } from "../src/train/batch.ts";
import { STATE_FORMAT, type TrainerStateFile, loadCheckpoint, relayoutMoments, saveCheckpoint } from "../src/train/checkpoint.ts";
import { trainingModel } from "../src/train/graphs.ts";
import { type TrainOptions, train } from "../src/train/train.ts";
import { datasetOf, toyQuadruples, variantModel } from "./iopo-helpers.ts";

/** The tiny tokenizer's 1660 entries in 3 chunks (600, 600, 460). */
const CHUNK = 600;
const dir = mkdtempSync(join(tmpdir(), "iopo-vocab-"));
let wasm: Engine;
beforeAll(async () => {
  wasm = await createWasmEngine();
});
afterAll(async () => {
  await wasm?.close();
  rmSync(dir, { recursive: true, force: true });
});

const samples = toyQuadruples(6);
/** Batch i: two quadruples. */
function feeds(m: Model, i: number): Record<string, HostTensor> {
  const enc = samples.slice(2 * i, 2 * i + 2).map((s) => encodeExample(m.tokenizer, s, "iopo", 64));
  return collate(enc, m.config, m.tokenizer.padTokenId).feeds;
}

function trainer(m: Model, o: { whole: boolean; weights?: ModelWeights; bucketElements?: number }): Promise<Trainer> {
  return Trainer.create({
    engine: wasm,
    model: trainingModel({
      method: "iopo",
      config: m.config,
      weights: o.weights ?? m.weights,
      referenceWeights: m.weights,
      seed: 0,
      loss: { beta: 0.1, labelSmoothing: 0, prefFtx: 0.5 },
      reference: "on-the-fly",
      vocabChunk: CHUNK,
      wholeVocabParams: o.whole,
    }),
    lr: 1e-2,
    weightDecay: 0.01,
    optimizerBucketElements: o.bucketElements,
  });
}

/** Steps on batches `from`..`to`-1: their losses. */
async function steps(t: Trainer, m: Model, from: number, to: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push((await t.step(feeds(m, i))).loss);
  return out;
}

/** The trainable tensors (trainer names) as weights. */
async function held(t: Trainer): Promise<ModelWeights> {
  const s = await t.getState((n) => t.trainable.some((p) => p.name === n));
  return new Map(Object.entries(s.tensors).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxDiff(a: ModelWeights, b: ModelWeights): number {
  let d = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    expect(y, name).toBeDefined();
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

const configs = { tied: { tie_word_embeddings: true }, untied: { tie_word_embeddings: false } };

describe("vocabulary-chunk parameters (full fine-tuning)", () => {
  for (const [name, overrides] of Object.entries(configs))
    it(`${name}: 3 steps equal the whole-tensor path; a checkpoint round-trips the joined weights byte for byte`, async () => {
      const m = variantModel("micro", overrides);
      const chunked = await trainer(m, { whole: false });
      const whole = await trainer(m, { whole: true });
      const vocabShaped = chunked.trainable.filter((p) => p.shape.includes(m.config.vocabSize));
      expect(vocabShaped.map((p) => p.name)).toEqual([]);
      const chunkNames = chunked.trainable.map((p) => p.name!).filter((n) => /\.vocab\d+$/.test(n));
      expect(chunkNames).toHaveLength(name === "tied" ? 3 : 6);

      const lossChunked = await steps(chunked, m, 0, 3);
      const lossWhole = await steps(whole, m, 0, 3);
      lossChunked.forEach((l, i) => expect(Math.abs(l - lossWhole[i]), `step ${i}`).toBeLessThan(1e-5));
      const joined = joinVocabParams(m.config, await held(chunked));
      const reference = await held(whole);
      expect([...joined.keys()].sort()).toEqual([...paramShapes(m.config).keys()].sort());
      expect(maxDiff(joined, reference)).toBeLessThan(1e-5);
      // the steps moved the vocabulary weights (an equality of untouched weights would prove nothing)
      const start = new Map([["model.embed_tokens.weight", m.weights.get("model.embed_tokens.weight")!]]);
      expect(maxDiff(start, joined)).toBeGreaterThan(1e-3);

      const state = { ...stateFile(3), vocabChunk: CHUNK };
      const tensors = (await chunked.getState()).tensors;
      const saved = await loadCheckpoint(
        await saveCheckpoint(join(dir, name), { state, config: m.config, tokenizer: m.tokenizer, tensors }),
        m.config,
      );
      const bytes = (d: WeightData) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      for (const [n, data] of joined) expect(bytes(saved.weights!.get(n)!).equals(bytes(data)), n).toBe(true);
      await Promise.all([chunked.dispose(), whole.dispose()]);
    });

  for (const [name, overrides] of Object.entries(configs))
    it(`${name}: a checkpoint with whole-tensor moments resumes into the chunks as the whole-tensor run continues`, async () => {
      const m = variantModel("micro", overrides);
      const whole = await trainer(m, { whole: true });
      await steps(whole, m, 0, 1);
      // as written before the chunks: no vocabChunk in trainer_state.json
      const out = await saveCheckpoint(join(dir, `old-${name}`), {
        state: stateFile(1),
        config: m.config,
        tokenizer: m.tokenizer,
        tensors: (await whole.getState()).tensors,
      });
      expect(JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8")).vocabChunk).toBeUndefined();
      const saved = await loadCheckpoint(out, m.config);
      // small buckets: the chunks' moments land in other buckets than the whole tensors' did
      const resumed = await trainer(m, { whole: false, weights: saved.weights, bucketElements: 20000 });
      expect(resumed.buckets.length).toBeGreaterThan(2);
      const sizes = resumed.buckets.map((idx) => idx.reduce((n, i) => n + resumed.trainable[i].data!.length, 0));
      await resumed.setState({ step: 1, tensors: relayoutMoments(m.config, saved, CHUNK, sizes) });
      const lossResumed = await steps(resumed, m, 1, 3);
      const lossWhole = await steps(whole, m, 1, 3);
      lossResumed.forEach((l, i) => expect(Math.abs(l - lossWhole[i]), `step ${i + 1}`).toBeLessThan(1e-5));
      expect(maxDiff(joinVocabParams(m.config, await held(resumed)), await held(whole))).toBeLessThan(1e-5);
      // and a mismatched layout is refused, not misread
      expect(() => relayoutMoments(m.config, saved, CHUNK, [...sizes, 1])).toThrow(/moments hold/);
      await Promise.all([resumed.dispose(), whole.dispose()]);
    });
});

describe("train(): full fine-tuning resumes from a checkpoint written before the chunks", () => {
  it("its whole-tensor moments (no vocabChunk) continue to the uninterrupted run's weights", async () => {
    const o = {
      model: variantModel("micro", {}),
      data: datasetOf(toyQuadruples(8)),
      method: "iopo" as const,
      full: true,
      maxSteps: 3,
      saveEvery: 1,
      batchSize: 2,
      gradAccum: 1,
      lr: 5e-3,
      engine: wasm,
      log: () => {},
      progress: "none" as const,
      cacheDir: join(dir, "cache"),
    };
    const whole = await train({ ...o, out: join(dir, "train-whole") } as TrainOptions);
    const out = join(dir, "train-resumed");
    await train({ ...o, out } as TrainOptions);
    const statePath = join(out, "checkpoint-1", "trainer_state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8"));
    expect(state.vocabChunk).toBe(DEFAULT_VOCAB_CHUNK);
    // as written before the chunks: no vocabChunk, and the run stopped after step 1
    writeFileSync(statePath, JSON.stringify({ ...state, vocabChunk: undefined }));
    for (const step of [2, 3]) rmSync(join(out, `checkpoint-${step}`), { recursive: true });
    const resumed = await train({ ...o, out, resume: true } as TrainOptions);
    expect(resumed.summary.resumedFrom).toBe(1);
    const weights = async (d: string): Promise<ModelWeights> => {
      const f = await SafetensorsFile.open(join(d, "model.safetensors"));
      return new Map(await Promise.all(f.names.map(async (n) => [n, (await f.readF32(n)).data] as const)));
    };
    expect(maxDiff(await weights(resumed.checkpoint), await weights(whole.checkpoint))).toBe(0);
  });
});

function stateFile(step: number): TrainerStateFile {
  return {
    format: STATE_FORMAT,
    step,
    totalSteps: 3,
    cursor: { epoch: 0, sample: 2 * step },
    rng: { seed: 0, state: 0 },
    model: { source: "tiny:micro", fingerprint: "test" },
    data: { source: "toy", key: "toy" },
    lora: null,
    options: {},
    savedAt: new Date(0).toISOString(),
  };
}
