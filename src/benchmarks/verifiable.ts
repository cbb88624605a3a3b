/**
 * IFEval and IFBench scoring: submitted responses judged by the checkers against the suite's
 * prompt set stored in D1, reported as the references report them (strict and loose, prompt- and
 * instruction-level, per category and per id), with each record's verdicts in their output shape.
 */
import { z } from "@hono/zod-openapi";
import { LIMITS } from "@iopo/common";
import { findDataset } from "../datasets/store/access.ts";
import { recordsInRange, toRecord } from "../datasets/store/rows.ts";
import { accuracyReport, evaluateIfevalRecord, JudgeInputError, type IfevalInputRecord, type IfevalOutputRecord } from "../judge/index.ts";
import type { Principal } from "../lib/principal.ts";
import { ProblemError, type FieldError } from "../lib/problem.ts";
import { readSubmissions } from "./submissions.ts";

/** The verifiable benchmarks scored by the checkers, each against its prompt set stored in D1. */
export const VERIFIABLE_SUITES = {
  ifeval: { title: "IFEval", importFormat: "ifeval" },
  ifbench: { title: "IFBench", importFormat: "ifeval" },
} as const;
export type VerifiableSuite = keyof typeof VERIFIABLE_SUITES;

const SubmissionSchema = z
  .object({
    prompt: z.string().optional(),
    key: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    response: z.string().max(LIMITS.responseChars),
  })
  .refine((s) => s.prompt !== undefined || s.key !== undefined, { message: "needs `prompt` or `key`", path: ["prompt"] });

/** A verifiable prompt set as stored by `npm start` (datasets `ifeval`, `ifbench`: instruction records with checkers). */
async function loadVerifiablePrompts(db: D1Database, name: string, principal: Principal): Promise<IfevalInputRecord[]> {
  const dataset = await findDataset(db, name, principal, "read").catch((error) => {
    if (error instanceof ProblemError && error.status === 404) {
      throw new ProblemError(
        404,
        "not-found",
        `The prompt set "${name}" is not in this database; \`npm start\` seeds ifeval and ifbench, or import one with \`npx iopo import --format ifeval\`.`,
        [{ field: "query.dataset", message: "unknown dataset" }],
      );
    }
    throw error;
  });
  const prompts: IfevalInputRecord[] = [];
  for await (const row of recordsInRange(db, dataset.id, 0, dataset.recordCount)) {
    const record = toRecord(row);
    if (record.kind !== "instruction" && record.kind !== "sft") continue;
    const instruction = record.instruction;
    const checked = instruction.constraints.filter((c) => c.checker);
    if (checked.length === 0) continue;
    prompts.push({
      key: Number((record.meta as { key?: unknown } | undefined)?.key ?? prompts.length),
      prompt: instruction.prompt ?? instruction.description,
      instruction_id_list: checked.map((c) => c.checker!.id),
      kwargs: checked.map((c) => c.checker!.kwargs),
    });
  }
  return prompts;
}

type Submission = { line: number; prompt?: string; key?: number; response: string };

/**
 * Each submission's prompt record, matched by prompt (IFBench's reference modulo surrounding
 * whitespace, IFEval's exactly) or by key; 422 for a response that matches none, or answers a
 * prompt already answered (it would be counted twice).
 */
function matchPrompts(suite: VerifiableSuite, prompts: IfevalInputRecord[], submissions: Submission[]): IfevalInputRecord[] {
  const title = VERIFIABLE_SUITES[suite].title;
  const promptKey = suite === "ifbench" ? (prompt: string) => prompt.trim() : (prompt: string) => prompt;
  const byPrompt = new Map(prompts.map((p) => [promptKey(p.prompt), p]));
  const byKey = new Map(prompts.map((p) => [p.key, p]));
  const field = (s: Submission) => (s.prompt !== undefined ? "prompt" : "key");
  const records = submissions.map((s) => (s.prompt !== undefined ? byPrompt.get(promptKey(s.prompt)) : byKey.get(s.key!)));
  const unmatched = submissions.filter((_, i) => records[i] === undefined);
  if (unmatched.length) {
    throw new ProblemError(
      422,
      "validation",
      `${unmatched.length} response(s) match no prompt of the ${title} set.`,
      unmatched.slice(0, 200).map((s) => ({ field: field(s), line: s.line, message: `matches no ${title} prompt` })),
    );
  }
  const firstLine = new Map<number, number>();
  const repeated: FieldError[] = [];
  submissions.forEach((s, i) => {
    const key = records[i]!.key;
    const first = firstLine.get(key);
    if (first === undefined) firstLine.set(key, s.line);
    else repeated.push({ field: field(s), line: s.line, message: `the prompt of key ${key} was already answered on line ${first}` });
  });
  if (repeated.length) {
    throw new ProblemError(
      422,
      "validation",
      `${repeated.length} response(s) answer a prompt already answered; send one response per prompt.`,
      repeated.slice(0, 200),
    );
  }
  return records as IfevalInputRecord[];
}

/** Scores a request body of submissions on `suite` against the prompt set `dataset`. */
export async function scoreVerifiable(
  db: D1Database,
  principal: Principal,
  request: { suite: VerifiableSuite; dataset: string; body: string; isJson: boolean },
) {
  const { suite } = request;
  const submissions: Submission[] = readSubmissions(request.body, request.isJson, SubmissionSchema, {
    max: LIMITS.verifiableItems,
    noun: "responses",
  }).map(({ line, value }) => ({ line, ...value, key: value.key === undefined ? undefined : Number(value.key) }));
  const prompts = await loadVerifiablePrompts(db, request.dataset, principal);
  const records = matchPrompts(suite, prompts, submissions);

  const strict: IfevalOutputRecord[] = [];
  const loose: IfevalOutputRecord[] = [];
  const verdicts = submissions.map((s, i) => {
    const record = records[i]!;
    let verdict: ReturnType<typeof evaluateIfevalRecord>;
    try {
      verdict = evaluateIfevalRecord(record, s.response);
    } catch (error) {
      if (error instanceof JudgeInputError)
        throw new ProblemError(
          409,
          "conflict",
          `The stored ${VERIFIABLE_SUITES[suite].title} record ${record.key} is not judgeable: ${error.message}`,
        );
      throw error;
    }
    const [strictMode, looseMode] = [verdict.strict!, verdict.loose!];
    strict.push(strictMode.output);
    loose.push(looseMode.output);
    const modeVerdict = (mode: typeof strictMode) => ({
      follow_all_instructions: mode.output.follow_all_instructions,
      follow_instruction_list: mode.output.follow_instruction_list,
      results: mode.results,
    });
    return { key: record.key, line: s.line, strict: modeVerdict(strictMode), loose: modeVerdict(looseMode) };
  });
  const answered = new Set(records.map((r) => r.key));
  return {
    report: {
      prompts: strict.length,
      instructions: strict.reduce((n, o) => n + o.instruction_id_list.length, 0),
      strict: accuracyReport(strict),
      loose: accuracyReport(loose),
      prompts_without_response: prompts.filter((p) => !answered.has(p.key)).length,
    },
    verdicts,
  };
}
