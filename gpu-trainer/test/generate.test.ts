/**
 * Generation: KV-cache decoding (one prefill, then one token per run, caches on the device) must
 * choose the same tokens as recomputing the whole sequence with the training graph each step.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createNodeCpuEngine, createWasmEngine, type Engine } from "@iopo/graph";
import { Generator, endOfTurnToken, generateTexts, loadGenerationModel, sampleToken, seededRng } from "../src/generate/index.ts";
import { PROMPTS, peaky, recomputeGreedy } from "./generate-helpers.ts";

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
});

describe.each(["llama", "qwen2"])("KV-cache decoding = full recompute (tiny:%s)", (name) => {
  for (const kind of ["wasm", "cpu"] as const) {
    it(`${kind}: greedy tokens match, batched and left-padded`, async () => {
      const engine = kind === "wasm" ? await createWasmEngine() : await createNodeCpuEngine();
      engines.push(engine);
      const m = peaky(name, 3);
      const prompts = PROMPTS(m.tokenizer);
      const steps = 12;
      const gen = await Generator.create({ engine, config: m.config, weights: m.weights });
      const batched = await gen.generate(prompts, { maxNewTokens: steps, batchSize: 3 });
      const single = await gen.generate(prompts, { maxNewTokens: steps, batchSize: 1 });
      for (let i = 0; i < prompts.length; i++) {
        const ref = await recomputeGreedy(engine, m, prompts[i], steps);
        expect(batched[i].tokens).toEqual(ref.tokens);
        expect(single[i].tokens).toEqual(ref.tokens);
        expect(batched[i].finishReason).toBe("length");
        expect(batched[i].promptTokens).toBe(prompts[i].length);
      }
      await gen.dispose();
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
