/**
 * Generation: KV-cache decoding (one prefill, then one token per run, caches on the device) computes
 * the training forward's logits, position by position; the sampling and stopping options.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createNodeCpuEngine, createWasmEngine, type Engine } from "@iopo/graph";
import { createTinyModel } from "../src/model/index.ts";
import { Generator, endOfTurnToken, generateTexts, loadGenerationModel, sampleToken, seededRng } from "../src/generate/index.ts";
import { PROMPTS, fullSequenceLogits, peaky, randomLora } from "./generate-helpers.ts";

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
});

/** fp32 on both sides, in different operation orders; logits are O(0.1) with transformers' init. */
const LOGITS_TOLERANCE = 1e-5;

// tiny:llama has 2 query heads per KV head, tiny:qwen2 4 (and qkv biases, tied embeddings)
describe.each(["llama", "qwen2"])("KV-cache decoding = the training forward (tiny:%s, GQA, LoRA)", (name) => {
  for (const kind of ["wasm", "cpu"] as const) {
    it(`${kind}: prefill and step-by-step logits equal the full sequence's at every position`, async () => {
      const engine = kind === "wasm" ? await createWasmEngine() : await createNodeCpuEngine();
      engines.push(engine);
      const m = createTinyModel(name, 3);
      const c = m.config;
      const V = c.vocabSize;
      const lora = randomLora(c, 4);
      // a batch of two, left-padded: row 1's one-token prompt puts every one of its positions
      // through the decode path (position 0 in the prefill, the others one step each)
      let r = 12345;
      const token = () => (r = (r * 1103515245 + 12345) % 2 ** 31) % V;
      const steps = 6;
      const prompts = [Array.from({ length: 6 }, token), [token()]];
      const forced = prompts.map(() => Array.from({ length: steps }, token));
      const gen = await Generator.create({ engine, config: c, weights: m.weights, lora });
      const batch = await gen.openBatch(prompts, steps);
      const decoded = [await batch.prefill()];
      for (let s = 0; s < steps; s++)
        decoded.push(
          await batch.step(
            Int32Array.from(forced.map((f) => f[s])),
            prompts.map(() => true),
          ),
        );
      batch.close();
      await gen.dispose();

      for (let n = 0; n < prompts.length; n++) {
        const seq = [...prompts[n], ...forced[n]];
        const full = await fullSequenceLogits(engine, c, m.weights, lora, seq);
        const base = await fullSequenceLogits(engine, c, m.weights, undefined, seq);
        let maxDiff = 0;
        let loraEffect = 0;
        decoded.forEach((logits, k) => {
          const pos = prompts[n].length - 1 + k;
          for (let v = 0; v < V; v++) {
            maxDiff = Math.max(maxDiff, Math.abs(logits[n * V + v] - full[pos * V + v]));
            loraEffect = Math.max(loraEffect, Math.abs(full[pos * V + v] - base[pos * V + v]));
          }
        });
        expect(maxDiff, `row ${n}`).toBeLessThan(LOGITS_TOLERANCE);
        expect(loraEffect, `row ${n}: the adapters move the logits`).toBeGreaterThan(1000 * LOGITS_TOLERANCE);
      }
    });
  }
});

describe("generation options", () => {
  it("stops at a stop token, which is not returned; the chat template's end-of-turn is found", async () => {
    const engine = await createNodeCpuEngine();
    engines.push(engine);
    const m = peaky("llama", 5);
    const prompts = PROMPTS(m.tokenizer);
    const gen = await Generator.create({ engine, config: m.config, weights: m.weights });
    const free = await gen.generate(prompts, { maxNewTokens: 8 });
    // make the third token of prompt 0 a stop token
    const stopAt = free[0].tokens[2];
    const stopped = await gen.generate(prompts, { maxNewTokens: 8, stopTokens: [stopAt] });
    expect(stopped[0].finishReason).toBe("stop");
    expect(stopped[0].stopToken).toBe(stopAt);
    expect(stopped[0].tokens).toEqual(free[0].tokens.slice(0, free[0].tokens.indexOf(stopAt)));
    expect(endOfTurnToken(m.tokenizer)).toBe(m.tokenizer.tokenToId("<|im_end|>"));
    await gen.dispose();
  });

  it("sampling is seeded per prompt: same seed same text, whatever the batch; another seed differs", async () => {
    const engine = await createNodeCpuEngine();
    engines.push(engine);
    const m = await loadGenerationModel("tiny:micro", { seed: 1 });
    const gen = await Generator.create({ engine, config: m.config, weights: m.weights });
    const prompts = ["Write a short text about owls.", "Write a short text about bees.", "Hi"];
    const opts = { maxNewTokens: 10, temperature: 1, topP: 0.95, seed: 7 };
    const a = await generateTexts(gen, m, prompts, { ...opts, batchSize: 3 });
    const b = await generateTexts(gen, m, prompts, { ...opts, batchSize: 1 });
    const c = await generateTexts(gen, m, prompts, { ...opts, seed: 8 });
    expect(a.map((x) => x.response)).toEqual(b.map((x) => x.response));
    expect(a.map((x) => x.response)).not.toEqual(c.map((x) => x.response));
    expect(m.stopTokens).toContain(m.tokenizer.tokenToId("<|im_end|>"));
    await gen.dispose();
  });

  it("top-p keeps the smallest nucleus; temperature 0 is argmax", () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const rng = seededRng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleToken(logits, 0, 4, { temperature: 1, topP: 0.8 }, rng)]++;
    expect(counts[2] + counts[3]).toBe(0);
    expect(counts[0] / (counts[0] + counts[1])).toBeCloseTo(0.5 / 0.8, 1);
    expect(sampleToken(logits, 0, 4, { temperature: 0 }, rng)).toBe(0);
  });
});
