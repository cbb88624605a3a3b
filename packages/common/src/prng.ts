/**
 * The one seeded PRNG: mulberry32 (32-bit state, uniform doubles in [0, 1)). Fast, tiny, and its
 * whole state is one integer, so a run can checkpoint it and resume the exact sequence. Callers
 * derive the seed from their own keys (a job seed and a record id, a sampling stream, ...).
 */

/**
 * A 32-bit seed from a string key: FNV-1a over its UTF-16 code units, starting from `basis`
 * (FNV's offset basis unless a caller mixes a number of its own in, such as a job seed).
 */
export function seedFromKey(key: string, basis = 0x811c9dc5): number {
  let h = basis;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The state after `state` and the number it yields. */
export function mulberry32Step(state: number): { state: number; value: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { state: next, value: ((t ^ (t >>> 14)) >>> 0) / 4294967296 };
}

/** A generator of uniform numbers in [0, 1) seeded with a 32-bit integer. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const step = mulberry32Step(state);
    state = step.state;
    return step.value;
  };
}

/** mulberry32 with its state in view, for a run that checkpoints its RNG and resumes it. */
export class Mulberry32 {
  constructor(
    readonly seed: number,
    public state = seed >>> 0,
  ) {}

  next(): number {
    const step = mulberry32Step(this.state);
    this.state = step.state;
    return step.value;
  }

  /** A seed for a deterministic sub-generator. */
  fork(): number {
    return Math.floor(this.next() * 2 ** 31);
  }
}
