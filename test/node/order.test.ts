import { describe, expect, it } from "vitest";
import { permutation, rankLength, rankSlice } from "@iopo/common";

describe("shared sample order", () => {
  it("is a bijection on [0, n) for small, odd, power-of-two and larger sizes", () => {
    for (const n of [0, 1, 2, 3, 5, 16, 17, 100, 1000, 4097, 65_537]) {
      const perm = permutation(n, 42, 3);
      const seen = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const j = perm.at(i);
        expect(j >= 0 && j < n).toBe(true);
        seen[j]!++;
      }
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });

  it("depends on seed and epoch, and only on them", () => {
    const take = (seed: number, epoch: number) => Array.from({ length: 50 }, (_, i) => permutation(1000, seed, epoch).at(i));
    expect(take(1, 0)).toEqual(take(1, 0));
    expect(take(1, 0)).not.toEqual(take(2, 0));
    expect(take(1, 0)).not.toEqual(take(1, 1));
    // seeds beyond 32 bits are distinct too
    expect(take(2 ** 40, 0)).not.toEqual(take(2 ** 40 + 2 ** 32, 0));
  });

  it("is pinned: the same numbers on every machine and release", () => {
    // integer-only arithmetic; these values must never change, or resumed runs would diverge
    expect(Array.from({ length: 10 }, (_, i) => permutation(10, 0, 0).at(i))).toMatchInlineSnapshot(`
      [
        1,
        4,
        3,
        6,
        9,
        0,
        7,
        2,
        8,
        5,
      ]
    `);
  });

  it("splits ranks without overlap and covers every record", () => {
    for (const [n, w] of [
      [10, 3],
      [7, 8],
      [64, 8],
      [1001, 16],
    ] as const) {
      const perm = permutation(n, 9, 0);
      const all: number[] = [];
      let total = 0;
      for (let r = 0; r < w; r++) {
        const slice = rankSlice(perm, r, w, 0, n);
        expect(slice).toHaveLength(rankLength(n, r, w));
        total += slice.length;
        all.push(...slice);
      }
      expect(total).toBe(n);
      expect(new Set(all).size).toBe(n);
    }
    expect(() => rankLength(10, 3, 3)).toThrow(RangeError);
    expect(() => permutation(10, -1, 0)).toThrow(RangeError);
  });

  it("looks shuffled: no long runs of consecutive indices", () => {
    const perm = permutation(10_000, 1, 0);
    let ascendingPairs = 0;
    for (let i = 1; i < 10_000; i++) if (perm.at(i) === perm.at(i - 1) + 1) ascendingPairs++;
    expect(ascendingPairs).toBeLessThan(20);
  });
});
