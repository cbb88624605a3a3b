import { describe, expect, it } from "vitest";
import { generateDemoCorpus, HELD_OUT_TOPICS, SYNTHETIC_CHECKER_IDS, TRAIN_TOPICS } from "../../demo/synthetic.ts";
import { RecordSchema } from "../../src/datasets/records.ts";
import { judgeConstraints } from "../../src/judge/index.ts";

describe("synthetic demo corpus", () => {
  const corpus = generateDemoCorpus(3, 20, 4);
  const combo = (r: { instruction: { constraints: { checker?: { id: string } }[] } }) =>
    r.instruction.constraints
      .map((c) => c.checker!.id)
      .sort()
      .join("+");

  it("is a function of its seed", () => {
    expect(generateDemoCorpus(3, 20, 4)).toEqual(corpus);
    expect(generateDemoCorpus(4, 20, 4).train).not.toEqual(corpus.train);
  });

  it("holds only responses the judge confirms, as valid dataset records", () => {
    expect(corpus.train.length).toBe(20 * TRAIN_TOPICS.length);
    for (const record of corpus.train) {
      expect(RecordSchema.safeParse(record).success).toBe(true);
      const constraints = record.instruction.constraints.map((c) => c.checker!);
      expect(judgeConstraints(record.response, constraints, "strict").followed_all).toBe(true);
      expect(constraints.every((c) => SYNTHETIC_CHECKER_IDS.includes(c.id))).toBe(true);
    }
    const sizes = new Set(corpus.train.map((r) => r.instruction.constraints.length));
    expect([...sizes].sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("holds out topics and multi-constraint combinations", () => {
    const trainCombos = new Set(corpus.train.map(combo));
    expect(corpus.evalMulti.length).toBeGreaterThan(0);
    for (const r of corpus.evalMulti) {
      expect(r.instruction.constraints.length).toBeGreaterThanOrEqual(2);
      expect(trainCombos.has(combo(r))).toBe(false);
    }
    for (const r of corpus.evalSingle) {
      expect(r.instruction.constraints).toHaveLength(1);
      expect(HELD_OUT_TOPICS).toContain((r.meta as { topic: string }).topic);
    }
  });
});
