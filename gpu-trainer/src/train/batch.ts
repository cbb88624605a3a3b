/**
 * Examples -> token rows -> padded batches in the method's block layout.
 *
 * Truncation keeps the beginning of the prompt and of the response, with one (prompt, response)
 * budget per example, so the 2 or 4 sequences of a pair or quadruple stay comparable: LLaMA-Factory's
 * `infer_seqlen(source_len, target_len, cutoff_len)` with the longest prompt and the longest
 * response of the example.
 */
import type { Conversation, Sample } from "../data/samples.ts";
import type { DecoderConfig } from "../model/config.ts";
import { ropeTables } from "../model/config.ts";
import type { HostTensor } from "@iopo/graph";
import type { ChatTokenizer } from "../tokenizer/index.ts";
import type { Method } from "./losses.ts";

export interface Row {
  prompt: number[];
  response: number[];
}

export interface EncodedExample {
  id: string;
  /** One row per block of the method's layout, in block order. */
  rows: Row[];
}

/** LLaMA-Factory's budget split: (new prompt length, new response length). */
export function inferSeqlen(sourceLen: number, targetLen: number, cutoffLen: number): [number, number] {
  let maxTarget: number;
  if (targetLen * 2 < cutoffLen) maxTarget = cutoffLen;
  else if (sourceLen * 2 < cutoffLen) maxTarget = cutoffLen - sourceLen;
  else maxTarget = Math.floor(cutoffLen * (targetLen / (sourceLen + targetLen)));
  const newTarget = Math.min(maxTarget, targetLen);
  const newSource = Math.min(Math.max(cutoffLen - newTarget, 0), sourceLen);
  return [newSource, newTarget];
}

/** The (prompt, response) pairs of a sample in the method's block order. */
function pairsOf(s: Sample, method: Method): [Conversation, string][] {
  switch (method) {
    case "iopo":
      if (s.kind !== "iopo") break;
      return [
        [s.x1, s.y1],
        [s.x1, s.y2],
        [s.x2, s.y2],
        [s.x2, s.y1],
      ];
    case "iopo-lite":
      if (s.kind !== "iopo") break;
      return [
        [s.x1, s.y1],
        [s.x1, s.y2],
        [s.x2, s.y1],
      ];
    case "dpo":
      if (s.kind !== "dpo") break;
      return [
        [s.prompt, s.chosen],
        [s.prompt, s.rejected],
      ];
    case "sft":
      if (s.kind !== "sft") break;
      return [[s.prompt, s.response]];
  }
  throw new Error(`internal: a ${s.kind} example reached the ${method} batcher`);
}

const encodedCache = new WeakMap<Sample, Map<string, EncodedExample>>();

/** Tokenize and truncate one example (memoised per sample object and settings). */
export function encodeExample(tok: ChatTokenizer, s: Sample, method: Method, maxLength: number): EncodedExample {
  const key = `${method}|${maxLength}`;
  let per = encodedCache.get(s);
  const hit = per?.get(key);
  if (hit) return hit;
  const full = pairsOf(s, method).map(([conv, resp]) => tok.encodePair(conv, resp));
  const source = Math.max(...full.map((r) => r.prompt.length));
  const target = Math.max(...full.map((r) => r.response.length));
  const [ps, rs] = source + target > maxLength ? inferSeqlen(source, target, maxLength) : [source, target];
  const rows = full.map((r) => ({ prompt: r.prompt.slice(0, ps), response: r.response.slice(0, rs) }));
  const out = { id: s.id, rows };
  if (!per) encodedCache.set(s, (per = new Map()));
  per.set(key, out);
  return out;
}

export interface CollatedBatch {
  /** Feeds for the training / log-prob graphs. */
  feeds: Record<string, HostTensor>;
  /** Real (non-padding) tokens in the batch. */
  tokens: number;
  /** Scored response tokens per row (block-major order). */
  responseTokens: number[];
  examples: number;
}

/** Round the padded length up, so that WebGPU sees few distinct shapes. */
export const PAD_MULTIPLE = 8;

/**
 * Right-padded rows in block-major order: row k*B + j is block k of example j. labels[t] is the
 * token at t+1; loss_mask[t] = 1 where that token belongs to the response.
 */
export function collate(examples: EncodedExample[], c: DecoderConfig, padId: number): CollatedBatch {
  const B = examples.length;
  const K = examples[0].rows.length;
  const rows: Row[] = [];
  for (let k = 0; k < K; k++) for (let j = 0; j < B; j++) rows.push(examples[j].rows[k]);
  const longest = Math.max(1, ...rows.map((r) => r.prompt.length + r.response.length));
  const T = Math.ceil(longest / PAD_MULTIPLE) * PAD_MULTIPLE;
  const N = rows.length;
  const ids = new Int32Array(N * T).fill(padId);
  const labels = new Int32Array(N * T);
  const lossMask = new Float32Array(N * T);
  const keyMask = new Float32Array(N * T);
  let tokens = 0;
  const responseTokens: number[] = [];
  rows.forEach((r, n) => {
    const seq = [...r.prompt, ...r.response];
    const o = n * T;
    for (let t = 0; t < seq.length; t++) {
      ids[o + t] = seq[t];
      keyMask[o + t] = 1;
      if (t + 1 < seq.length) labels[o + t] = seq[t + 1];
    }
    // position t predicts token t+1: score the predictions of response tokens
    let scored = 0;
    for (let t = Math.max(r.prompt.length, 1); t < seq.length; t++) {
      lossMask[o + t - 1] = 1;
      scored++;
    }
    responseTokens.push(scored);
    tokens += seq.length;
  });
  const { cos, sin } = ropeTables(c, T);
  const hd = c.headDim;
  return {
    feeds: {
      ids: { dtype: "int32", shape: [N, T], data: ids },
      labels: { dtype: "int32", shape: [N, T], data: labels },
      loss_mask: { dtype: "float32", shape: [N, T], data: lossMask },
      key_mask: { dtype: "float32", shape: [N, T], data: keyMask },
      "rope.cos": { dtype: "float32", shape: [T, hd], data: cos },
      "rope.sin": { dtype: "float32", shape: [T, hd], data: sin },
    },
    tokens,
    responseTokens,
    examples: B,
  };
}
