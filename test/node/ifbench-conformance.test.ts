/**
 * Conformance with AllenAI's IFBench reference on its sample responses (294 prompts, 335
 * instructions): every instruction verdict, strict and loose, equals
 * reference/eval_results_{strict,loose}.jsonl, except the named known exceptions
 * (helpers/ifbench-data.ts), which differ exactly as documented and nowhere else.
 */
import { describe, expect, it } from "vitest";
import { accuracyReport, evaluateIfeval, listCheckers, type IfevalOutputRecord } from "../../src/judge/index.ts";
import { IFBENCH_INPUT, IFBENCH_KNOWN_EXCEPTIONS, loadIfbenchSample } from "./helpers/ifbench-data.ts";
import { readJsonl } from "./helpers/ifeval-data.ts";

const { records, responses, strict, loose } = loadIfbenchSample();
const evaluation = evaluateIfeval(records, responses, { stripPrompts: true });

/** Instruction verdicts that differ from the reference, as "key id". */
function differences(ours: IfevalOutputRecord[], reference: IfevalOutputRecord[]): string[] {
  const diffs: string[] = [];
  ours.forEach((output, i) => {
    expect(output.prompt).toBe(reference[i]!.prompt);
    expect(output.response).toBe(reference[i]!.response);
    expect(output.instruction_id_list).toEqual(reference[i]!.instruction_id_list);
    output.follow_instruction_list.forEach((followed, j) => {
      if (followed !== reference[i]!.follow_instruction_list[j]) diffs.push(`${records[i]!.key} ${output.instruction_id_list[j]}`);
    });
  });
  return diffs;
}

/** Our outputs with the reference's verdicts put in for the known exceptions. */
function withExceptionsAsReference(ours: IfevalOutputRecord[], reference: IfevalOutputRecord[]): IfevalOutputRecord[] {
  const exceptions = new Set<string>(IFBENCH_KNOWN_EXCEPTIONS);
  return ours.map((output, i) => {
    const follow = output.follow_instruction_list.map((followed, j) =>
      exceptions.has(`${records[i]!.key} ${output.instruction_id_list[j]}`) ? reference[i]!.follow_instruction_list[j]! : followed,
    );
    return { ...output, follow_instruction_list: follow, follow_all_instructions: follow.every(Boolean) };
  });
}

describe("IFBench conformance (sample responses, 294 prompts, 335 instructions)", () => {
  it("matches every strict verdict but the known exceptions", () => {
    expect(evaluation.strict).toHaveLength(294);
    expect(differences(evaluation.strict, strict)).toEqual([...IFBENCH_KNOWN_EXCEPTIONS]);
    expect(withExceptionsAsReference(evaluation.strict, strict)).toEqual(strict);
  });

  it("matches every loose verdict but the known exceptions", () => {
    expect(differences(evaluation.loose, loose)).toEqual([...IFBENCH_KNOWN_EXCEPTIONS]);
    expect(withExceptionsAsReference(evaluation.loose, loose)).toEqual(loose);
  });

  it("gives the reference totals once the known exceptions are set aside", () => {
    const { report } = evaluation;
    expect(report.prompts).toBe(294);
    expect(report.instructions).toBe(335);
    expect(report.missing_responses).toEqual([]);
    // ours as judged: the three start_verb items pass (each alone in its prompt)
    expect(report.strict.prompt_level).toMatchObject({ correct: 80, total: 294 });
    expect(report.strict.instruction_level).toMatchObject({ correct: 96, total: 335 });
    expect(report.loose.prompt_level).toMatchObject({ correct: 91, total: 294 });
    expect(report.loose.instruction_level).toMatchObject({ correct: 112, total: 335 });
    // the reference's: strict 77/294 prompts, 93/335 instructions; loose 88/294, 109/335
    const refStrict = accuracyReport(withExceptionsAsReference(evaluation.strict, strict));
    const refLoose = accuracyReport(withExceptionsAsReference(evaluation.loose, loose));
    expect(refStrict.prompt_level).toMatchObject({ correct: 77, total: 294 });
    expect(refStrict.instruction_level).toMatchObject({ correct: 93, total: 335 });
    expect(refLoose.prompt_level).toMatchObject({ correct: 88, total: 294 });
    expect(refLoose.instruction_level).toMatchObject({ correct: 109, total: 335 });
    expect(accuracyReport(strict)).toEqual(refStrict);
  });

  it("matches responses to prompts modulo surrounding whitespace, as the reference does", () => {
    const padded = new Map([...responses].map(([prompt, response]) => [`  ${prompt.trim()}\n`, response]));
    const exact = evaluateIfeval(records, padded, { allowMissing: true });
    expect(exact.report.missing_responses).toHaveLength(294);
    const tolerant = evaluateIfeval(records, padded, { stripPrompts: true });
    expect(tolerant.strict).toEqual(evaluation.strict);
  });

  it("validates every record of the current 300-prompt release (58 ids, every kwarg key present, nulls absent)", () => {
    const current = readJsonl<{ key: string; prompt: string; instruction_id_list: string[]; kwargs: unknown[] }>(IFBENCH_INPUT);
    expect(current).toHaveLength(300);
    const judged = evaluateIfeval(current, new Map(), { allowMissing: true });
    expect(judged.report.prompts).toBe(300);
    const ids = new Set(current.flatMap((record) => record.instruction_id_list));
    expect(ids.size).toBe(58);
    const ifbench = listCheckers().filter((checker) => checker.family === "ifbench");
    expect(ifbench.map((checker) => checker.id).sort()).toEqual([...ids].sort());
  });
});
