/**
 * IFEval as a benchmark: records of the reference's input data, their responses, the per-record
 * verdicts in the reference's output shape, and the accuracy report (prompt-level and
 * instruction-level, overall, per category and per instruction id; strict and loose).
 */
import { JudgeInputError, type JudgeIssue } from "../errors.ts";
import type { IfevalInstructionId } from "./ids.ts";
import { AnalysisCache, judgeOne, type ConstraintResult, type JudgeMode } from "../core/judge.ts";
import { pyStrip } from "../text/python-str.ts";
import { validateConstraints } from "../core/registry.ts";

/** One line of IFEval's `input_data.jsonl`. */
export interface IfevalInputRecord {
  key: number;
  prompt: string;
  instruction_id_list: string[];
  kwargs: unknown[];
}

/**
 * One input record of either benchmark: IFEval's shape, whose keys are numbers, or IFBench's
 * (`IFBench_test.jsonl`), whose keys are strings. Its ids may be IFEval's, IFBench's or both.
 */
export interface BenchmarkInputRecord extends Omit<IfevalInputRecord, "key"> {
  key: number | string;
}

/** One line of the reference's `eval_results_{strict,loose}.jsonl`. */
export interface IfevalOutputRecord {
  instruction_id_list: string[];
  prompt: string;
  response: string;
  follow_all_instructions: boolean;
  follow_instruction_list: boolean[];
}

export interface IfevalRecordVerdict {
  output: IfevalOutputRecord;
  /** Per instruction, with evidence. */
  results: ConstraintResult[];
}

/** Validates a record's ids and kwargs; issue paths are `["instruction_id_list", i]` / `["kwargs", i, name]`. */
function validateRecord(record: BenchmarkInputRecord) {
  if (record.instruction_id_list.length !== record.kwargs.length) {
    throw new JudgeInputError([
      {
        path: ["kwargs"],
        message: `has ${record.kwargs.length} entries for ${record.instruction_id_list.length} instructions`,
      },
    ]);
  }
  try {
    return validateConstraints(record.instruction_id_list.map((id, i) => ({ id, kwargs: record.kwargs[i] })));
  } catch (error) {
    if (!(error instanceof JudgeInputError)) throw error;
    // Map the generic constraint paths onto the record's two parallel lists.
    const issues: JudgeIssue[] = error.issues.map(({ path, message }) => {
      const [index, field, ...rest] = path;
      return field === "id" ? { path: ["instruction_id_list", index!], message } : { path: ["kwargs", index!, ...rest], message };
    });
    throw new JudgeInputError(issues);
  }
}

/** Judges one IFEval record's response in one or both modes (sharing the text measurements). */
export function evaluateIfevalRecord(
  record: BenchmarkInputRecord,
  response: string,
  modes: readonly JudgeMode[] = ["strict", "loose"],
): Partial<Record<JudgeMode, IfevalRecordVerdict>> {
  const validated = validateRecord(record);
  const cache = new AnalysisCache();
  const verdicts: Partial<Record<JudgeMode, IfevalRecordVerdict>> = {};
  for (const mode of modes) {
    const results = validated.map(({ checker, kwargs }) => judgeOne(checker, kwargs, response, mode, cache));
    const follow = results.map((r) => r.passed);
    verdicts[mode] = {
      output: {
        instruction_id_list: record.instruction_id_list,
        prompt: record.prompt,
        response,
        follow_all_instructions: follow.every(Boolean),
        follow_instruction_list: follow,
      },
      results,
    };
  }
  return verdicts;
}

export interface Accuracy {
  correct: number;
  total: number;
  /** correct / total (0 when total is 0). */
  accuracy: number;
}

export interface ModeReport {
  prompt_level: Accuracy;
  instruction_level: Accuracy;
  /** Keyed by the part of the id before ":", sorted. */
  by_category: Record<string, Accuracy>;
  /** Keyed by instruction id, sorted. */
  by_instruction: Record<string, Accuracy>;
}

function tally(): { correct: number; total: number } {
  return { correct: 0, total: 0 };
}

function toAccuracy({ correct, total }: { correct: number; total: number }): Accuracy {
  return { correct, total, accuracy: total === 0 ? 0 : correct / total };
}

function sortedAccuracies(tallies: Map<string, { correct: number; total: number }>): Record<string, Accuracy> {
  return Object.fromEntries([...tallies.keys()].sort().map((key) => [key, toAccuracy(tallies.get(key)!)]));
}

/** The reference's `print_report` figures for one mode. */
export function accuracyReport(outputs: readonly IfevalOutputRecord[]): ModeReport {
  const prompts = tally();
  const instructions = tally();
  const byCategory = new Map<string, { correct: number; total: number }>();
  const byInstruction = new Map<string, { correct: number; total: number }>();
  for (const output of outputs) {
    prompts.total++;
    if (output.follow_instruction_list.every(Boolean)) prompts.correct++;
    output.instruction_id_list.forEach((id, i) => {
      const followed = output.follow_instruction_list[i] ? 1 : 0;
      instructions.total++;
      instructions.correct += followed;
      const colon = id.indexOf(":");
      const category = colon < 0 ? id : id.slice(0, colon);
      for (const [map, key] of [
        [byCategory, category],
        [byInstruction, id],
      ] as const) {
        const t = map.get(key) ?? tally();
        t.total++;
        t.correct += followed;
        map.set(key, t);
      }
    });
  }
  return {
    prompt_level: toAccuracy(prompts),
    instruction_level: toAccuracy(instructions),
    by_category: sortedAccuracies(byCategory),
    by_instruction: sortedAccuracies(byInstruction),
  };
}

export interface IfevalEvaluation {
  strict: IfevalOutputRecord[];
  loose: IfevalOutputRecord[];
  report: IfevalReport;
}

export interface IfevalReport {
  prompts: number;
  instructions: number;
  strict: ModeReport;
  loose: ModeReport;
  /** Keys of records that had no response and were judged as an empty response. */
  missing_responses: Array<number | string>;
}

/**
 * The response for a record's prompt: the exact prompt string (IFEval's reference), or, with
 * `stripPrompts` (IFBench's reference), also the prompts with surrounding whitespace stripped on
 * either side.
 */
export function responseLookup(responses: ReadonlyMap<string, string>, stripPrompts: boolean): (prompt: string) => string | undefined {
  if (!stripPrompts) return (prompt) => responses.get(prompt);
  const byPrompt = new Map<string, string>();
  for (const [prompt, response] of responses) {
    byPrompt.set(prompt, response);
    const stripped = pyStrip(prompt);
    if (stripped !== prompt) byPrompt.set(stripped, response);
  }
  return (prompt) => byPrompt.get(prompt) ?? byPrompt.get(pyStrip(prompt));
}

/**
 * Evaluates every record (in input order) against `responses` (prompt -> response, matched by the
 * exact prompt string as IFEval's reference does, or also modulo surrounding whitespace with
 * `stripPrompts`, as IFBench's does). A record without a response is an error naming its key,
 * unless `allowMissing`, in which case it is judged as an empty response (every instruction
 * fails) and listed in the report. Records may mix IFEval and IFBench instruction ids.
 */
export function evaluateIfeval(
  records: readonly BenchmarkInputRecord[],
  responses: ReadonlyMap<string, string>,
  options: { allowMissing?: boolean; stripPrompts?: boolean } = {},
): IfevalEvaluation {
  const lookup = responseLookup(responses, options.stripPrompts ?? false);
  const missing = records.filter((record) => lookup(record.prompt) === undefined).map((record) => record.key);
  if (missing.length > 0 && !options.allowMissing) {
    throw new JudgeInputError(missing.map((key) => ({ path: ["responses"], message: `no response for the prompt of key ${key}` })));
  }
  const strict: IfevalOutputRecord[] = [];
  const loose: IfevalOutputRecord[] = [];
  for (const record of records) {
    let verdicts;
    try {
      verdicts = evaluateIfevalRecord(record, lookup(record.prompt) ?? "");
    } catch (error) {
      if (!(error instanceof JudgeInputError)) throw error;
      throw new JudgeInputError(error.issues.map((issue) => ({ path: [`key ${record.key}`, ...issue.path], message: issue.message })));
    }
    strict.push(verdicts.strict!.output);
    loose.push(verdicts.loose!.output);
  }
  return {
    strict,
    loose,
    report: {
      prompts: records.length,
      instructions: records.reduce((n, record) => n + record.instruction_id_list.length, 0),
      strict: accuracyReport(strict),
      loose: accuracyReport(loose),
      missing_responses: missing,
    },
  };
}

export type { IfevalInstructionId };
