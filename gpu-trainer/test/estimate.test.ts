/**
 * `iopo-train estimate`: device memory by part from config.json alone. The paper's models'
 * config.json files (written from their published configs) are in fixtures/configs; their
 * parameter counts are the published ones.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Graph } from "@iopo/graph";
import { LINEAR_MODULES, declareParams } from "../src/model/decoder.ts";
import { createTinyModel } from "../src/model/index.ts";
import { readConfig } from "../src/model/weights.ts";
import { estimateMemory } from "../src/train/estimate.ts";

const BIN = join(import.meta.dirname, "../bin/iopo-train.mjs");
const CONFIGS = join(import.meta.dirname, "fixtures/configs");
const dir = mkdtempSync(join(tmpdir(), "iopo-estimate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const estimate = (...args: string[]) => spawnSync(process.execPath, [BIN, "estimate", ...args], { encoding: "utf8" });

/** Parameter counts on the models' cards (embeddings included, tied ones once). */
const PUBLISHED: Record<string, number> = {
  "Qwen2-0.5B": 494_032_768,
  "Qwen2-1.5B": 1_543_714_304,
  "Qwen2-7B": 7_615_616_512,
  "Llama-3.1-8B": 8_030_261_248,
};

const base = {
  method: "iopo",
  lora: null,
  ref: "cache",
  batchSize: 1,
  gradAccum: 1,
  maxLength: 256,
  precision: "fp32",
  recompute: false,
} as const;

describe("iopo-train estimate", () => {
  it("writes {parts, totalBytes} for a LoRA run of Qwen2-7B; the frozen base is the published parameter count in 16 bits", () => {
    const json = join(dir, "q7.json");
    const r = estimate("--model", join(CONFIGS, "Qwen2-7B"), "--method", "iopo", "--max-length", "2048", "--card", "h200", "--json", json);
    expect(r.status, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(json, "utf8"));
    expect(Object.keys(file).sort()).toEqual(["parts", "totalBytes"]);
    expect(Object.keys(file.parts).sort()).toEqual(["activations", "frozenWeights", "gradients", "logitsChunk", "moments", "trainable"]);
    expect(file.totalBytes).toBe(Object.values(file.parts as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(file.parts.frozenWeights).toBe(PUBLISHED["Qwen2-7B"] * 2); // the checkpoint's bf16, kept 16-bit
    // LoRA r8 on every linear module of 28 layers: r (in + out) per module
    expect(file.parts.trainable / 2).toBe(28 * 8 * (2 * (3584 + 3584) + 2 * (3584 + 512) + 2 * (3584 + 18944) + (18944 + 3584)) * 4);
    expect(file.parts.moments).toBe(2 * file.parts.trainable);
    const out = JSON.parse(r.stdout);
    expect(out.cardBytes).toBe(143771 * 2 ** 20);
    expect(out.fits).toBe(file.totalBytes <= out.cardBytes);
    expect(r.stderr).toMatch(/frozenWeights\s+14\.19 GiB/);
  });

  it("counts each model's parameters as published, and what recomputation, fp16 and full fine-tuning change", async () => {
    for (const [name, n] of Object.entries(PUBLISHED)) {
      const c = await readConfig(join(CONFIGS, name));
      const lora = { rank: 8, alpha: 16, targets: [...LINEAR_MODULES] };
      const e = estimateMemory(c, { ...base, lora });
      expect(e.parts.frozenWeights, name).toBe(n * 2); // bf16 checkpoints: fp16 on the host and the device
      const fp32Checkpoint = { ...c, raw: { ...c.raw, torch_dtype: "float32" } };
      expect(estimateMemory(fp32Checkpoint, { ...base, lora }).parts.frozenWeights, name).toBe(n * 4);
      expect(estimateMemory(fp32Checkpoint, { ...base, lora, precision: "fp16" }).parts.frozenWeights, name).toBe(n * 2);
      const full = estimateMemory(c, base);
      expect(full.parts.trainable, name).toBe(2 * n * 4); // master weights, and the step's new ones
      expect(full.parts.frozenWeights).toBe(0);
      expect(estimateMemory(c, { ...base, ref: "on-the-fly" }).parts.frozenWeights).toBe(n * 2); // the frozen reference copy
      expect(full.parts.gradients, name).toBe(n * 4);
      expect(estimateMemory(c, { ...base, gradAccum: 4 }).parts.gradients).toBe(2 * full.parts.gradients); // + accumulators
      expect(estimateMemory(c, { ...base, lora, recompute: true }).parts.activations).toBeLessThan(e.parts.activations / 2);
      // fp16 at a long cutoff: half the activations' bytes (the weights' fp16 casts aside)
      const long = { ...base, lora, maxLength: 4096 };
      expect(estimateMemory(c, { ...long, precision: "fp16" }).parts.activations).toBeLessThan(
        0.6 * estimateMemory(c, long).parts.activations,
      );
      // a step holds one vocabulary chunk's logits, not the whole vocabulary's
      expect(e.parts.logitsChunk).toBe(2 * 4 * 256 * Math.min(32768, c.vocabSize) * 4);
      expect(estimateMemory(c, { ...base, lora, vocabChunk: 0 }).parts.logitsChunk).toBe(4 * 4 * 256 * c.vocabSize * 4);
    }
  });

  it("counts the trainable weights the training graph declares (tiny Llama, LoRA on two modules and full)", () => {
    const m = createTinyModel("llama", 0);
    for (const lora of [{ rank: 4, alpha: 8, targets: ["q_proj", "down_proj"] as const }, null]) {
      const g = new Graph();
      declareParams(g, m.config, m.weights, { trainable: !lora, lora: lora ? { ...lora, targets: [...lora.targets] } : undefined });
      const trainable = g.params.filter((p) => p.trainable).reduce((s, p) => s + p.data!.length, 0);
      const e = estimateMemory(m.config, { ...base, lora: lora ? { ...lora, targets: [...lora.targets] } : null });
      expect(e.parts.trainable).toBe(2 * trainable * 4);
    }
  });

  it("takes the train command's options and refuses their mistakes the same way", () => {
    const model = join(CONFIGS, "Qwen2-0.5B");
    const fp16 = estimate("--model", model, "--method", "iopo", "--precision", "fp16");
    expect(fp16.status).toBe(1);
    expect(fp16.stderr).toMatch(/--precision fp16 needs --grad-accum 1/);
    const noMethod = estimate("--model", model);
    expect(noMethod.status).toBe(2);
    const full = estimate("--model", model, "--method", "dpo", "--full", "--card-gb", "1000");
    expect(full.status, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout).fits).toBe(true);
    expect(estimate("--model", join(dir, "nowhere"), "--method", "iopo").stderr).toMatch(/no config\.json/);
  });
});
