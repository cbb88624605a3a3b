/**
 * The deterministic sample order shared by the dataset API and the trainer.
 *
 * For a version of `n` records, a seed and an epoch define a permutation of 0..n-1: a keyed
 * Feistel network over the next even power of two, cycle-walked into range. Any position of the
 * sequence is computed on its own in O(1) memory, so a trainer resumes from any sample index and
 * every machine computes the same order with integer arithmetic only (no floating point, no
 * platform RNG). Rank r of world size w takes global positions r, r+w, r+2w, ...: the ranks
 * partition the epoch exactly, without padding or overlap.
 */

const ROUNDS = 4;
export const MAX_ORDER_SIZE = 2 ** 31;

function mix32(x: number): number {
  // murmur3's 32-bit finaliser: a full-avalanche integer hash
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Round keys from (seed, epoch); seeds and epochs are non-negative safe integers. */
function roundKeys(seed: number, epoch: number): number[] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const keys: number[] = [];
  let state = mix32(lo ^ mix32(hi ^ 0x9e3779b9));
  state = mix32(state ^ mix32((epoch >>> 0) ^ 0x7f4a7c15) ^ (Math.floor(epoch / 2 ** 32) >>> 0));
  for (let round = 0; round < ROUNDS; round++) {
    state = mix32(state + 0x6d2b79f5 + round);
    keys.push(state);
  }
  return keys;
}

export interface Permutation {
  readonly size: number;
  /** The record index at position `i` of the shuffled epoch. */
  at(i: number): number;
}

export function permutation(size: number, seed: number, epoch: number): Permutation {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ORDER_SIZE)
    throw new RangeError(`size must be an integer in [0, 2^31], got ${size}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  let bits = 2;
  while (2 ** bits < size) bits++;
  if (bits % 2 === 1) bits++;
  const halfBits = bits / 2;
  const halfMask = 2 ** halfBits - 1;
  const keys = roundKeys(seed, epoch);

  const encrypt = (x: number): number => {
    let left = Math.floor(x / 2 ** halfBits);
    let right = x % 2 ** halfBits;
    for (const key of keys) {
      const next = (left ^ (mix32(right ^ key) & halfMask)) >>> 0;
      left = right;
      right = next;
    }
    return left * 2 ** halfBits + right;
  };

  return {
    size,
    at(i: number): number {
      if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`index ${i} outside [0, ${size})`);
      // cycle-walking: a bijection on [0, 2^bits) restricted to [0, size) stays a bijection
      let y = encrypt(i);
      while (y >= size) y = encrypt(y);
      return y;
    },
  };
}

/** How many samples rank `rank` of `worldSize` gets from `size`. */
export function rankLength(size: number, rank: number, worldSize: number): number {
  checkRank(rank, worldSize);
  return size > rank ? Math.floor((size - 1 - rank) / worldSize) + 1 : 0;
}

/** Record indices for one rank, from its own sample index `from`, at most `limit` of them. */
export function rankSlice(perm: Permutation, rank: number, worldSize: number, from: number, limit: number): number[] {
  const total = rankLength(perm.size, rank, worldSize);
  const out: number[] = [];
  for (let k = from; k < total && out.length < limit; k++) out.push(perm.at(rank + k * worldSize));
  return out;
}

function checkRank(rank: number, worldSize: number) {
  if (!Number.isSafeInteger(worldSize) || worldSize < 1) throw new RangeError(`world_size must be >= 1, got ${worldSize}`);
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`rank must be in [0, ${worldSize}), got ${rank}`);
}
