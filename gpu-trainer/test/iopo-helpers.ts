/** Shared fixtures for the IOPO trainer tests: models with informative weights, toy data. */
import { writeFileSync } from "node:fs";
import type { Dataset } from "../src/data/dataset.ts";
import type { Sample } from "../src/data/samples.ts";
import { type DecoderConfig, parseHfConfig } from "../src/model/config.ts";
import type { ModelWeights } from "../src/model/decoder.ts";
import { type Model, createTinyModel, randomWeights, tinyConfig, tinyTokenizer } from "../src/model/index.ts";

/**
 * Weights large enough that attention, rope and every projection visibly move the log-probs
 * (transformers' 0.02 init makes a random model nearly uniform, which would hide bugs).
 */
export function spikyWeights(c: DecoderConfig, seed: number): ModelWeights {
  const w = randomWeights(c, seed);
  let k = 0;
  for (const [name, data] of w) {
    k++;
    if (name.endsWith("norm.weight")) for (let i = 0; i < data.length; i++) data[i] = 0.6 + ((i * 7919 + k * 31) % 97) / 97;
    else for (let i = 0; i < data.length; i++) data[i] *= name.includes("embed") || name.includes("lm_head") ? 40 : 12;
  }
  return w;
}

/** A tiny model variant with overrides of its config.json fields. */
export function variantModel(name: string, overrides: Record<string, unknown>, seed = 3): Model {
  const tok = tinyTokenizer();
  const base = tinyConfig(name, tok.vocabSize);
  const config = parseHfConfig({ ...base.raw, ...overrides });
  return {
    config,
    weights: spikyWeights(config, seed),
    tokenizer: tok,
    source: `tiny:${name}`,
    fingerprint: `test-${name}-${JSON.stringify(overrides)}-${seed}`,
  };
}

const TOPICS = ["owls", "rivers", "bridges", "tea", "glaciers", "chess", "volcanoes", "gardens"];
const ADJECTIVES = ["old", "quiet", "bright", "strong", "useful", "famous", "small", "vast"];

/**
 * Toy quadruples a tiny model can learn: the same task asked in lower case (x1) and in capital
 * letters (x2), each answered in its own case; y1 fails x2 and y2 fails x1.
 */
export function toyQuadruples(n: number, seed = 0): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const t = TOPICS[(i + seed) % TOPICS.length];
    const a = ADJECTIVES[(i * 3 + seed) % ADJECTIVES.length];
    const task = `Write a short text about ${t}.`;
    const text = `${t.charAt(0).toUpperCase()}${t.slice(1)} are ${a}.`;
    out.push({
      kind: "iopo",
      id: `q${i}`,
      x1: [{ role: "user", content: `${task}\nYour entire response should be in English, and in all lowercase letters.` }],
      y1: text.toLowerCase(),
      x2: [{ role: "user", content: `${task}\nYour entire response should be in English, and in all capital letters.` }],
      y2: text.toUpperCase(),
    });
  }
  return out;
}

export function datasetOf(samples: Sample[], key = "test"): Dataset {
  return { key: `${key}:${samples.length}`, description: key, records: samples.map((s) => [s]) };
}

/** Write quadruples as a JSONL file of {id, x1, y1, x2, y2} strings. */
export function writeQuadruples(path: string, samples: Sample[]): void {
  const lines = samples.map((s) => {
    if (s.kind !== "iopo") throw new Error("quadruples only");
    return JSON.stringify({ id: s.id, x1: s.x1[s.x1.length - 1].content, y1: s.y1, x2: s.x2[s.x2.length - 1].content, y2: s.y2 });
  });
  writeFileSync(path, lines.join("\n") + "\n");
}

export { createTinyModel };
