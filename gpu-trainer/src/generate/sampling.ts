/**
 * Next-token choice on the host: greedy (temperature 0), or temperature + nucleus (top-p)
 * sampling from a seeded generator, one generator per prompt so a prompt's output does not depend
 * on which other prompts share its batch.
 */
import { mulberry32, seedFromKey } from "@iopo/common";

export interface SamplingOptions {
  /** 0 (default): greedy. */
  temperature?: number;
  /** Nucleus mass in (0, 1]; 1 (default) keeps every token. */
  topP?: number;
}

/** The shared PRNG (mulberry32) seeded from (seed, stream). */
export function seededRng(seed: number, stream = 0): () => number {
  return mulberry32(seedFromKey(`${seed}:${stream}`));
}

export function argmax(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i];
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * Choose a token from one row of logits (`logits[offset .. offset+n)`). Exact nucleus sampling:
 * candidates above a probability floor are sorted; if they do not reach `topP` the floor is
 * lowered (finally to 0), so the large-vocabulary case rarely sorts the whole vocabulary.
 */
export function sampleToken(logits: ArrayLike<number>, offset: number, n: number, opts: SamplingOptions, rng: () => number): number {
  const temperature = opts.temperature ?? 0;
  if (!(temperature > 0)) return argmax(logits, offset, n);
  const topP = opts.topP ?? 1;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((logits[offset + i] - max) / temperature);
    probs[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) probs[i] /= sum;
  if (topP >= 1) {
    let u = rng();
    for (let i = 0; i < n; i++) {
      u -= probs[i];
      if (u < 0) return i;
    }
    return argmax(probs);
  }
  // the nucleus: the most probable tokens whose mass first reaches topP
  let pmax = 0;
  for (let i = 0; i < n; i++) pmax = Math.max(pmax, probs[i]);
  for (let floor = pmax * 1e-3; ; floor = floor > 1e-12 ? floor * 1e-3 : 0) {
    const cand: number[] = [];
    let mass = 0;
    for (let i = 0; i < n; i++)
      if (probs[i] >= floor) {
        cand.push(i);
        mass += probs[i];
      }
    if (mass < topP && floor > 0) continue;
    cand.sort((a, b) => probs[b] - probs[a] || a - b);
    let kept = 0;
    let k = 0;
    while (k < cand.length && kept < topP) kept += probs[cand[k++]];
    let u = rng() * kept;
    for (let j = 0; j < k; j++) {
      u -= probs[cand[j]];
      if (u < 0) return cand[j];
    }
    return cand[k - 1];
  }
}
