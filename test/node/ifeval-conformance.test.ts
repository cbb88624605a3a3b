/**
 * Conformance with Google's IFEval reference on the GPT-4 responses: every one of the 834
 * instruction verdicts, strict and loose, equals reference/eval_results_{strict,loose}.jsonl.
 */
import { describe, expect, it } from "vitest";
import { evaluateIfeval, type IfevalOutputRecord } from "../../src/judge/index.ts";
import { loadGpt4Benchmark } from "./helpers/ifeval-data.ts";

const { records, responses, strict, loose } = loadGpt4Benchmark();
const evaluation = evaluateIfeval(records, responses);

/** Instruction verdicts that differ from the reference, as "key id: ours". Empty means conformant. */
function differences(ours: IfevalOutputRecord[], reference: IfevalOutputRecord[]): string[] {
  const diffs: string[] = [];
  ours.forEach((output, i) => {
    expect(output.prompt).toBe(reference[i]!.prompt);
    output.follow_instruction_list.forEach((followed, j) => {
      if (followed !== reference[i]!.follow_instruction_list[j]) {
        diffs.push(`${records[i]!.key} ${output.instruction_id_list[j]}: ours ${followed}`);
      }
    });
  });
  return diffs;
}

describe("IFEval conformance (GPT-4 responses, 541 prompts, 834 instructions)", () => {
  it("strict: all 834 instruction verdicts equal the reference", () => {
    expect(evaluation.strict).toHaveLength(541);
    expect(differences(evaluation.strict, strict)).toEqual([]);
    expect(evaluation.strict).toEqual(strict);
  });

  it("loose: all 834 instruction verdicts equal the reference", () => {
    expect(differences(evaluation.loose, loose)).toEqual([]);
    expect(evaluation.loose).toEqual(loose);
  });

  it("reports the reference totals", () => {
    const { report } = evaluation;
    expect(report.prompts).toBe(541);
    expect(report.instructions).toBe(834);
    expect(report.strict.prompt_level).toMatchObject({ correct: 417, total: 541 });
    expect(report.strict.instruction_level).toMatchObject({ correct: 698, total: 834 });
    expect(report.loose.prompt_level).toMatchObject({ correct: 431, total: 541 });
    expect(report.loose.instruction_level).toMatchObject({ correct: 714, total: 834 });
    expect(report.missing_responses).toEqual([]);
  });

  it("reports per category and per instruction id, sorted, summing to the totals", () => {
    for (const mode of [evaluation.report.strict, evaluation.report.loose]) {
      expect(Object.keys(mode.by_instruction)).toHaveLength(25);
      expect(Object.keys(mode.by_category)).toEqual([...Object.keys(mode.by_category)].sort());
      const sum = (table: Record<string, { correct: number; total: number }>) =>
        Object.values(table).reduce((acc, t) => [acc[0]! + t.correct, acc[1]! + t.total], [0, 0]);
      expect(sum(mode.by_category)).toEqual([mode.instruction_level.correct, 834]);
      expect(sum(mode.by_instruction)).toEqual([mode.instruction_level.correct, 834]);
    }
    expect(evaluation.report.strict.by_category.language).toMatchObject({ correct: 30, total: 31 });
  });
});
