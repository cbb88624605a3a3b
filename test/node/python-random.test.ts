/** The CPython `random.Random` stream that langdetect draws from (expected values from CPython 3.11). */
import { describe, expect, it } from "vitest";
import { PythonRandom, SeededReplay } from "../../src/judge/langdetect/python-random.ts";

describe("PythonRandom", () => {
  it("reproduces random() after seed(0) and seed(12345)", () => {
    const rng = new PythonRandom(0);
    expect([rng.random(), rng.random(), rng.random()]).toEqual([0.8444218515250481, 0.7579544029403025, 0.420571580830845]);
    rng.seed(12345);
    expect(rng.random()).toBe(0.41661987254534116);
  });

  it("reproduces gauss() including its cached second value", () => {
    const rng = new PythonRandom(0);
    const values = [rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)];
    const expected = [0.9417154046806644, -1.3965781047011498, -0.6797144480784211];
    // Math.log/cos/sin may differ from C's libm in the last bit.
    values.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
  });

  it("reproduces getrandbits() and choice()", () => {
    const rng = new PythonRandom(0);
    expect([1, 7, 32, 13].map((k) => rng.getrandbits(k))).toEqual([1, 49, 3255389356, 7292]);
    rng.seed(0);
    const thousand = Array.from({ length: 1000 }, (_, i) => i);
    const seven = Array.from({ length: 7 }, (_, i) => i);
    expect(Array.from({ length: 5 }, () => rng.choice(thousand))).toEqual([864, 394, 776, 911, 430]);
    expect(Array.from({ length: 5 }, () => rng.choice(seven))).toEqual([0, 2, 4, 3, 3]);
  });

  it("replays the seeded stream after restart(), however far an earlier replay read", () => {
    const draws = (rng: PythonRandom, n: number) => [rng.gauss(0, 1), ...Array.from({ length: n }, () => rng.randbelow(1000 + n))];
    const replay = new SeededReplay(0);
    for (const n of [3, 2000, 10]) {
      replay.restart();
      expect(draws(replay, n)).toEqual(draws(new PythonRandom(0), n));
    }
  });
});
