/**
 * One judge request's item (POST /v1/judge, and each item of POST /v1/judge/batch): its schema
 * with the caps of LIMITS, the work it costs, the check of its TRACE dimensions, and its judging.
 */
import { z } from "@hono/zod-openapi";
import { type JudgeResponse, judgementWork, LIMITS } from "@iopo/common";
import { loadTaxonomyIndex, resolveDimension } from "../../datasets/taxonomy.ts";
import { ProblemError, type FieldError } from "../../lib/problem.ts";
import { JudgeInputError, type JudgeIssue } from "../index.ts";
import { judgeHybrid, validateRuleConstraints } from "../llm/hybrid.ts";
import type { LlmJudge } from "../llm/judge.ts";
import { llmJudgeFor } from "../llm/from-env.ts";
import type { Bindings } from "../../env.ts";

const { charsPerCheck } = LIMITS.work;

export const WORK_FORMULA = `(response characters + ${charsPerCheck}) × texts checked (strict 1, loose 8, both 9) × (1 + constraints + list-kwarg items / 32), plus, for an item with free-text constraints, the characters it sends to the LLM (instruction + response + each free-text constraint, twice with compile)`;

/** The characters an item sends to the model: one judging call, and with `compile` the constraints once more. */
function llmInputChars(item: JudgeItem): number {
  const texts = item.constraints.flatMap((c) => ("text" in c ? [c.text.length] : []));
  if (texts.length === 0) return 0;
  const constraintChars = texts.reduce((n, chars) => n + chars, 0);
  return (item.instruction?.length ?? 0) + item.response.length + constraintChars * (item.compile ? 2 : 1);
}

/**
 * An item's work (character-checks): the checks (free-text constraints count as one each: with
 * `compile` they become checks) and what it sends to the model, so a batch of long instructions
 * cannot buy model calls with cheap checks.
 */
export const itemWork = (item: JudgeItem) =>
  judgementWork(
    item.response.length,
    item.constraints.map((c) => ("kwargs" in c ? { kwargs: c.kwargs } : {})),
    item.mode,
  ) + llmInputChars(item);

function workIssue(work: number): { path: string[]; message: string } {
  return {
    path: [],
    message: `this judgement costs ${work} character-checks, over the limit of ${LIMITS.work.maxWorkPerRequest} per request (max_work_per_request: ${WORK_FORMULA}); shorten the response, use fewer constraints or mode "strict"`,
  };
}

const JUDGE_MODES = ["strict", "loose", "both"] as const;

const RuleConstraintSchema = z
  .object({
    id: z.string().min(1).max(100).openapi({ example: "length_constraints:number_words" }),
    kwargs: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .openapi({ example: { relation: "at least", num_words: 300 } }),
  })
  .strict()
  .openapi("RuleConstraint", { description: "A verifiable constraint, decided by the registered checker `id` (GET /v1/checkers)." });

const TextConstraintSchema = z
  .object({
    text: z.string().min(1).max(LIMITS.constraintTextChars).openapi({ example: "Answer in fewer than 100 words." }),
    dimension: z.string().min(1).max(200).optional().openapi({
      example: "Numerical Constraint",
      description: "TRACE dimension (English name, slug or Chinese label, as GET /v1/taxonomy lists them), given to the judge as context",
    }),
  })
  .strict()
  .openapi("TextConstraint", {
    description: "A constraint in words, decided by the LLM judge (or, with `compile`, by the checker it compiles to).",
  });

export const JudgeItemSchema = z
  .object({
    response: z.string().max(LIMITS.responseChars, `at most ${LIMITS.responseChars} characters`),
    constraints: z
      .array(z.union([RuleConstraintSchema, TextConstraintSchema]))
      .min(1)
      .max(LIMITS.constraints, `at most ${LIMITS.constraints} constraints`),
    mode: z.enum(JUDGE_MODES).default("strict"),
    instruction: z.string().max(LIMITS.instructionChars, `at most ${LIMITS.instructionChars} characters`).optional().openapi({
      description:
        "The task/prompt the response answers; the LLM judge reads it (free-text constraints are judged against the response alone without it).",
    }),
    compile: z.boolean().default(false).openapi({
      description: "Compile free-text constraints into a registered checker when one decides them exactly, then check them exactly",
    }),
    cache: z
      .enum(["use", "bypass"])
      .default("use")
      .openapi({ description: '"bypass": ask the model again and overwrite the cached verdicts' }),
    pass_score: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .openapi({ description: "Lowest LLM score (0-10) that passes; default LLM_PASS_SCORE (10)" }),
  })
  .strict()
  .superRefine((item, ctx) => {
    const work = itemWork(item);
    if (work > LIMITS.work.maxWorkPerRequest) ctx.addIssue({ code: "custom", ...workIssue(work) });
  })
  .openapi("JudgeRequest");
export type JudgeItem = z.infer<typeof JudgeItemSchema>;

/** The judge's limits as GET /v1/checkers serves them (`limits`). */
export const SERVED_LIMITS = {
  response_chars: LIMITS.responseChars,
  instruction_chars: LIMITS.instructionChars,
  constraints_per_item: LIMITS.constraints,
  items_per_batch: LIMITS.judgeItems,
  llm_items_per_batch: LIMITS.judgeLlmItems,
  kwargs_phrase_chars: LIMITS.kwargs.phraseChars,
  kwargs_passage_chars: LIMITS.kwargs.passageChars,
  kwargs_list_items: LIMITS.kwargs.listItems,
  max_work_per_request: LIMITS.work.maxWorkPerRequest,
  work_chars_per_check: charsPerCheck,
  work_formula: WORK_FORMULA,
};

/** Issues of an item as field errors under `location` ("body" for POST /v1/judge, "item" in a batch). */
export const fieldErrors = (location: string, issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldError[] =>
  issues.map((issue) => ({ field: [location, ...issue.path.map(String)].join("."), message: issue.message }));

/**
 * Free-text constraints' `dimension` must name a TRACE dimension, checked as ingest checks it
 * (resolveDimension), and is passed on as its English name. The issues of each item, in order.
 */
export async function checkDimensions(db: D1Database, items: JudgeItem[]): Promise<JudgeIssue[][]> {
  const named = (item: JudgeItem) => item.constraints.some((c) => "text" in c && c.dimension !== undefined);
  if (!items.some(named)) return items.map(() => []);
  const taxonomy = await loadTaxonomyIndex(db);
  return items.map((item) => {
    const issues: JudgeIssue[] = [];
    item.constraints.forEach((c, i) => {
      if (!("text" in c) || c.dimension === undefined) return;
      const name = resolveDimension(taxonomy, c.dimension);
      if (name) c.dimension = name;
      else
        issues.push({
          path: ["constraints", i, "dimension"],
          message: `unknown TRACE dimension "${c.dimension}" (GET /v1/taxonomy lists them)`,
        });
    });
    return issues;
  });
}

/** POST /v1/judge: a 422 naming each constraint that cannot be judged as given, before any model call. */
export async function judgeItem(db: D1Database, item: JudgeItem, judge: LlmJudge): Promise<JudgeResponse> {
  const [dimensionIssues] = await checkDimensions(db, [item]);
  if (dimensionIssues!.length > 0)
    throw new ProblemError(422, "validation", "Some constraints name no TRACE dimension.", fieldErrors("body", dimensionIssues!));
  try {
    validateRuleConstraints(item.constraints);
    return await judgeHybrid(item, judge);
  } catch (error) {
    if (error instanceof JudgeInputError)
      throw new ProblemError(422, "validation", "Some constraints cannot be judged as given.", fieldErrors("body", error.issues));
    throw error;
  }
}

/**
 * One request's work through the judge's code, run at start-up (src/index.ts) so that a fresh
 * isolate's first request does not pay for compiling it: the request schema's first parse, the
 * rule checks with language detection (the costliest checker to run cold), the verdict's JSON.
 * Rule constraints only, so neither the model nor D1 is touched.
 */
export async function warmUpJudge(): Promise<void> {
  const item = JudgeItemSchema.parse({
    response: "The quick brown fox jumps over the lazy dog. The judge is ready.",
    constraints: [{ id: "language:response_language", kwargs: { language: "en" } }, { id: "punctuation:no_comma" }],
    mode: "strict",
  });
  JSON.stringify(await judgeHybrid(item, llmJudgeFor({} as Bindings, { spend: [] })));
}
