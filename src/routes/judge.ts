import { d1VerdictCache } from "../db/llm-cache.ts";
import { createRoute, z } from "@hono/zod-openapi";
import { API_LIMITS } from "@iopo/common";
import { JudgeResponseSchema } from "@iopo/common/api";
import type { Context } from "hono";
import type { AppEnv, Bindings } from "../env.ts";
import { JudgeInputError, judgementWork, KWARGS_LIMITS, WORK_LIMITS, type JudgeIssue } from "../judge/index.ts";
import {
  checkerCatalog,
  createLlmJudge,
  judgeHybrid,
  LlmError,
  llmConfigFromVars,
  needsLlm,
  validateRuleConstraints,
  type HybridItem,
  type LlmJudge,
} from "../judge/llm/index.ts";
import { loadTaxonomyIndex, resolveDimension } from "../datasets/taxonomy.ts";
import { clientAddress, requireScope } from "../lib/auth.ts";
import { callerSubjects, spendGuard, type SpendSubject } from "../lib/spend.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError, type FieldError } from "../lib/problem.ts";

/**
 * Documented limits of the judge routes (422 beyond the per-item ones, 413 beyond the batch's),
 * served in GET /v1/checkers. With the kwargs caps and the work budget (../judge/limits.ts) they
 * bound what any accepted request costs.
 */
export const JUDGE_LIMITS = {
  responseChars: 200_000,
  instructionChars: 500_000,
  constraintsPerItem: 64,
  itemsPerBatch: API_LIMITS.judgeItems,
  /** Items with free-text constraints (which need LLM calls) per batch request. */
  llmItemsPerBatch: API_LIMITS.judgeLlmItems,
  /** Character-checks per request, one item or a whole batch (see judgementWork). */
  maxWorkPerRequest: WORK_LIMITS.maxWorkPerRequest,
} as const;

const WORK_FORMULA = `(response characters + ${WORK_LIMITS.charsPerCheck}) × texts checked (strict 1, loose 8, both 9) × (1 + constraints + list-kwarg items / 32), plus, for an item with free-text constraints, the characters it sends to the LLM (instruction + response + each free-text constraint, twice with compile)`;

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
const itemWork = (item: JudgeItem) =>
  judgementWork(
    item.response.length,
    item.constraints.map((c) => ("kwargs" in c ? { kwargs: c.kwargs } : {})),
    item.mode,
  ) + llmInputChars(item);

function workIssue(work: number): { path: string[]; message: string } {
  return {
    path: [],
    message: `this judgement costs ${work} character-checks, over the limit of ${JUDGE_LIMITS.maxWorkPerRequest} per request (max_work_per_request: ${WORK_FORMULA}); shorten the response, use fewer constraints or mode "strict"`,
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
    text: z.string().min(1).max(20_000).openapi({ example: "Answer in fewer than 100 words." }),
    dimension: z.string().min(1).max(200).optional().openapi({
      example: "Numerical Constraint",
      description: "TRACE dimension (English name, slug or Chinese label, as GET /v1/taxonomy lists them), given to the judge as context",
    }),
  })
  .strict()
  .openapi("TextConstraint", {
    description: "A constraint in words, decided by the LLM judge (or, with `compile`, by the checker it compiles to).",
  });

const JudgeItemSchema = z
  .object({
    response: z.string().max(JUDGE_LIMITS.responseChars, `at most ${JUDGE_LIMITS.responseChars} characters`),
    constraints: z
      .array(z.union([RuleConstraintSchema, TextConstraintSchema]))
      .min(1)
      .max(JUDGE_LIMITS.constraintsPerItem, `at most ${JUDGE_LIMITS.constraintsPerItem} constraints`),
    mode: z.enum(JUDGE_MODES).default("strict"),
    instruction: z.string().max(JUDGE_LIMITS.instructionChars, `at most ${JUDGE_LIMITS.instructionChars} characters`).optional().openapi({
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
    if (work > JUDGE_LIMITS.maxWorkPerRequest) ctx.addIssue({ code: "custom", ...workIssue(work) });
  })
  .openapi("JudgeRequest");
type JudgeItem = z.infer<typeof JudgeItemSchema>;

/**
 * Whom model calls are made for: the subjects whose budgets they count against (src/lib/spend.ts:
 * the caller's key, or its address and the anonymous ceiling; a job passes its owner's key id),
 * and the request waiting for them, if any (its abort stops the calls not yet sent).
 */
export interface LlmCaller {
  spend: readonly SpendSubject[];
  signal?: AbortSignal;
}

/** An LLM judge: the configuration, the D1 cache, a concurrency cap, and the caller's budgets. */
export function llmJudgeFor(env: Bindings, caller: LlmCaller): LlmJudge {
  return createLlmJudge(llmConfigFromVars(env, env.AI), d1VerdictCache(env.DB), {
    onCacheError: (error) => console.error("llm cache unavailable", error),
    spend: spendGuard(env, caller.spend),
    ...(caller.signal ? { signal: caller.signal } : {}),
  });
}

/** The LLM judge of one API request: charged to its caller, stopped when the client goes away. */
export const requestLlmJudge = (c: Context<AppEnv>): LlmJudge =>
  llmJudgeFor(c.env, { spend: callerSubjects(c.get("principal"), clientAddress(c)), signal: c.req.raw.signal });

const toHybrid = (item: JudgeItem): HybridItem => item;

/**
 * One request's work through this route's code, run at start-up (src/index.ts) so that a fresh
 * isolate's first request does not pay for compiling it: the request schema's first parse, the
 * rule checks with language detection (the costliest checker to run cold), the verdict's JSON.
 * Rule constraints only, so neither the model nor D1 is touched.
 */
export async function warmUpJudgeRoute(): Promise<void> {
  const item = JudgeItemSchema.parse({
    response: "The quick brown fox jumps over the lazy dog. The judge is ready.",
    constraints: [{ id: "language:response_language", kwargs: { language: "en" } }, { id: "punctuation:no_comma" }],
    mode: "strict",
  });
  JSON.stringify(await judgeHybrid(toHybrid(item), llmJudgeFor({} as Bindings, { spend: [] })));
}

const issueToFieldError =
  (location: string) =>
  (issue: JudgeIssue): FieldError => ({
    field: [location, ...issue.path.map(String)].join("."),
    message: issue.message,
  });

function zodErrors(location: string, issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldError[] {
  return issues.map((i) => ({ field: [location, ...i.path.map(String)].join("."), message: i.message }));
}

type ParsedBatchItem = { index: number; item: JudgeItem } | { index: number; result: Record<string, unknown> };

/**
 * Free-text constraints' `dimension` must name a TRACE dimension, checked as ingest checks it
 * (resolveDimension), and is passed on as its English name. The issues of each item, in order.
 */
async function checkDimensions(db: D1Database, items: JudgeItem[]): Promise<JudgeIssue[][]> {
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

/** Batch items whose dimensions do not check out become their 422 entry. */
async function withCheckedDimensions(db: D1Database, parsed: ParsedBatchItem[]): Promise<ParsedBatchItem[]> {
  const valid = parsed.filter((p): p is { index: number; item: JudgeItem } => "item" in p);
  const issues = await checkDimensions(
    db,
    valid.map((p) => p.item),
  );
  const bad = new Map(valid.map((p, i) => [p.index, issues[i]!] as const).filter(([, list]) => list.length > 0));
  return parsed.map((p) => {
    const list = bad.get(p.index);
    return list ? { index: p.index, result: { index: p.index, error: { status: 422, errors: list.map(issueToFieldError("item")) } } } : p;
  });
}

/** Schema and checker validation of one batch item; a bad item becomes its 422 entry. */
function parseBatchItem(value: unknown, index: number): ParsedBatchItem {
  const parsed = JudgeItemSchema.safeParse(value);
  if (!parsed.success) return { index, result: { index, error: { status: 422, errors: zodErrors("item", parsed.error.issues) } } };
  try {
    validateRuleConstraints(parsed.data.constraints);
  } catch (error) {
    if (error instanceof JudgeInputError)
      return { index, result: { index, error: { status: 422, errors: error.issues.map(issueToFieldError("item")) } } };
    throw error;
  }
  return { index, item: parsed.data };
}

async function judgeParsed(p: ParsedBatchItem, judge: LlmJudge): Promise<Record<string, unknown>> {
  if ("result" in p) return p.result;
  return { index: p.index, ...(await judgeHybrid(toHybrid(p.item), judge)) };
}

/** The batch as a whole within the work budget (its valid items; a rejected item costs nothing). */
function checkBatchWork(parsed: ParsedBatchItem[]) {
  let work = 0;
  for (const p of parsed) if ("item" in p) work += itemWork(p.item);
  if (work > JUDGE_LIMITS.maxWorkPerRequest) {
    throw new ProblemError(
      413,
      "payload-too-large",
      `This batch costs ${work} character-checks, over the limit of ${JUDGE_LIMITS.maxWorkPerRequest} per request (max_work_per_request: ${WORK_FORMULA}). Split the batch.`,
      [{ field: "body", message: `at most ${JUDGE_LIMITS.maxWorkPerRequest} character-checks per request` }],
    );
  }
}

function checkLlmItems(parsed: ParsedBatchItem[]) {
  const n = parsed.filter((p) => "item" in p && needsLlm(p.item)).length;
  if (n > JUDGE_LIMITS.llmItemsPerBatch) {
    throw new ProblemError(
      413,
      "payload-too-large",
      `At most ${JUDGE_LIMITS.llmItemsPerBatch} items with free-text constraints (judged by the LLM) per batch; got ${n}. Split the batch.`,
    );
  }
}

// --- routes ----------------------------------------------------------------------------------

const judgeRoute = createRoute({
  method: "post",
  path: "/v1/judge",
  tags: ["Judge"],
  summary: "Judge one response against a list of constraints",
  description:
    "Verifiable `{id, kwargs}` constraints are decided by the registered checkers exactly as the IFEval reference (strict or loose), with what each measured as evidence. " +
    'Free-text `{text, dimension?}` constraints are decided by the LLM judge (explanation, then a 0-10 score; passed when score ≥ `pass_score`, default 10), one model call for all of an item\'s uncached ones, cached in D1 (`cache: "bypass"` asks again). ' +
    "With `compile: true` a free-text constraint is first compiled into a registered checker when one decides it exactly, and checked exactly. " +
    'Each result says what decided it (`decided_by`: rule, llm, compiled-rule). A grader failure is `status: "error"`, `passed: null`; `followed_all` is then false and `errors` counts them. ' +
    `Limits: response ≤ ${JUDGE_LIMITS.responseChars} characters, instruction ≤ ${JUDGE_LIMITS.instructionChars}, ≤ ${JUDGE_LIMITS.constraintsPerItem} constraints, ` +
    `kwargs phrases ≤ ${KWARGS_LIMITS.phraseChars} characters, passages ≤ ${KWARGS_LIMITS.passageChars}, lists ≤ ${KWARGS_LIMITS.listItems} items, none blank, ` +
    `and at most ${JUDGE_LIMITS.maxWorkPerRequest} character-checks of work, ${WORK_FORMULA} (422 beyond; all in GET /v1/checkers \`limits\`).`,
  middleware: [requireScope("judge"), acceptBody(...JSON_TYPES)] as const,
  request: { body: { required: true, content: { "application/json": { schema: JudgeItemSchema } } } },
  responses: { 200: jsonContent(JudgeResponseSchema, "The verdicts"), ...problemResponses(400, 401, 403, 413, 415, 422) },
});

const batchRoute = createRoute({
  method: "post",
  path: "/v1/judge/batch",
  tags: ["Judge"],
  summary: "Judge many items in one request",
  description:
    `A JSON body \`{items: [...]}\` (or a bare array) is answered with \`{results: [...]}\`; an NDJSON body (one item per line) is answered with NDJSON, one result line per input line, streamed. ` +
    `Results keep input order and carry \`index\`; a bad item yields \`{index, error: {status, errors}}\` instead of failing the batch. At most ${JUDGE_LIMITS.itemsPerBatch} items, of which at most ${JUDGE_LIMITS.llmItemsPerBatch} with free-text constraints, and at most ${JUDGE_LIMITS.maxWorkPerRequest} character-checks of work for the whole batch (413 beyond); LLM calls run at most LLM_CONCURRENCY at a time.`,
  middleware: [requireScope("judge"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: { type: "object", properties: { items: { type: "array", items: { $ref: "#/components/schemas/JudgeRequest" } } } },
        },
        "application/x-ndjson": { schema: { $ref: "#/components/schemas/JudgeRequest" } },
      },
    },
  },
  responses: {
    200: {
      description: "One result per item, in input order",
      content: {
        "application/json": { schema: { type: "object", properties: { results: { type: "array", items: { type: "object" } } } } },
        "application/x-ndjson": { schema: { type: "object", description: "one result per line" } },
      },
    },
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const CheckerSchema = z
  .object({
    id: z.string(),
    family: z.string(),
    category: z.string(),
    instruction_template: z.string().nullable(),
    kwargs_schema: z.record(z.string(), z.unknown()),
  })
  .openapi("Checker");

const LimitsSchema = z
  .object({
    response_chars: z.number().int(),
    instruction_chars: z.number().int(),
    constraints_per_item: z.number().int(),
    items_per_batch: z.number().int(),
    llm_items_per_batch: z.number().int(),
    kwargs_phrase_chars: z.number().int(),
    kwargs_passage_chars: z.number().int(),
    kwargs_list_items: z.number().int(),
    max_work_per_request: z.number().int(),
    work_chars_per_check: z.number().int(),
    work_formula: z.string(),
  })
  .openapi("JudgeLimits", { description: "The judge routes' limits: 422 for an item beyond them, 413 for a batch beyond its own" });

/** JUDGE_LIMITS and the kwargs caps as GET /v1/checkers serves them. */
const servedLimits = {
  response_chars: JUDGE_LIMITS.responseChars,
  instruction_chars: JUDGE_LIMITS.instructionChars,
  constraints_per_item: JUDGE_LIMITS.constraintsPerItem,
  items_per_batch: JUDGE_LIMITS.itemsPerBatch,
  llm_items_per_batch: JUDGE_LIMITS.llmItemsPerBatch,
  kwargs_phrase_chars: KWARGS_LIMITS.phraseChars,
  kwargs_passage_chars: KWARGS_LIMITS.passageChars,
  kwargs_list_items: KWARGS_LIMITS.listItems,
  max_work_per_request: JUDGE_LIMITS.maxWorkPerRequest,
  work_chars_per_check: WORK_LIMITS.charsPerCheck,
  work_formula: WORK_FORMULA,
};

const checkersRoute = createRoute({
  method: "get",
  path: "/v1/checkers",
  tags: ["Judge"],
  summary: "Every registered checker with its kwargs JSON Schema and instruction template",
  middleware: [requireScope("read")] as const,
  responses: {
    200: jsonContent(z.object({ checkers: z.array(CheckerSchema), limits: LimitsSchema }), "The registry and the judge's limits"),
    ...problemResponses(401, 403),
  },
});

export const judgeRoutes = createRouter()
  .openapi(judgeRoute, async (c) => {
    const item = c.req.valid("json");
    const [dimensionIssues] = await checkDimensions(c.env.DB, [item]);
    if (dimensionIssues!.length > 0) {
      throw new ProblemError(
        422,
        "validation",
        "Some constraints name no TRACE dimension.",
        dimensionIssues!.map(issueToFieldError("body")),
      );
    }
    try {
      validateRuleConstraints(item.constraints); // 422 before any model call
      return c.json(await judgeHybrid(toHybrid(item), requestLlmJudge(c)), 200);
    } catch (error) {
      if (error instanceof JudgeInputError) {
        throw new ProblemError(
          422,
          "validation",
          "Some constraints cannot be judged as given.",
          error.issues.map(issueToFieldError("body")),
        );
      }
      throw error;
    }
  })
  .openapi(batchRoute, async (c) => {
    const type = requestMediaType(c);
    const text = await bodyText(c);
    if (type === "application/json") return c.json({ results: await judgeJsonBatch(c.env.DB, text, requestLlmJudge(c)) }, 200) as never;
    return ndjsonBatch(c, text) as never; // a streamed NDJSON body, documented above
  })
  .openapi(checkersRoute, (c) => {
    return c.json({ checkers: checkerCatalog(), limits: servedLimits }, 200);
  });

async function judgeJsonBatch(db: D1Database, text: string, judge: LlmJudge): Promise<Record<string, unknown>[]> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(400, "malformed-json", `The request body is not valid JSON: ${(error as Error).message}`, [
      { field: "body", message: "not valid JSON" },
    ]);
  }
  const items = Array.isArray(body) ? body : (body as { items?: unknown })?.items;
  if (!Array.isArray(items)) {
    throw new ProblemError(422, "validation", "Send `{items: [...]}`, a JSON array of items, or NDJSON.", [
      { field: "body.items", message: "expected an array" },
    ]);
  }
  checkBatchSize(items.length);
  const parsed = await withCheckedDimensions(
    db,
    items.map((item, i) => parseBatchItem(item, i)),
  );
  checkLlmItems(parsed);
  checkBatchWork(parsed);
  // rule-only items finish at once; LLM calls queue on the request's concurrency cap
  return Promise.all(parsed.map((p) => judgeParsed(p, judge)));
}

function checkBatchSize(n: number) {
  if (n > JUDGE_LIMITS.itemsPerBatch) {
    throw new ProblemError(413, "payload-too-large", `At most ${JUDGE_LIMITS.itemsPerBatch} items per batch; got ${n}.`);
  }
  if (n === 0) throw new ProblemError(422, "validation", "The batch is empty.", [{ field: "body", message: "no items" }]);
}

/** NDJSON in, NDJSON out: results stream back in input order as they are judged. */
async function ndjsonBatch(c: Context<AppEnv>, text: string): Promise<Response> {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const numbered = lines.map((line, i) => ({ line: i + 1, line_text: line })).filter((l) => l.line_text.trim() !== "");
  checkBatchSize(numbered.length);
  const items = numbered.map(({ line, line_text }, index): { line: number; parsed: ParsedBatchItem } => {
    let value: unknown;
    try {
      value = JSON.parse(line_text);
    } catch (error) {
      return {
        line,
        parsed: {
          index,
          result: { index, error: { status: 400, errors: [{ field: "line", message: `not valid JSON: ${(error as Error).message}` }] } },
        },
      };
    }
    return { line, parsed: parseBatchItem(value, index) };
  });
  const checked = await withCheckedDimensions(
    c.env.DB,
    items.map((i) => i.parsed),
  );
  items.forEach((item, i) => (item.parsed = checked[i]!));
  checkLlmItems(items.map((i) => i.parsed));
  checkBatchWork(items.map((i) => i.parsed));
  const judge = requestLlmJudge(c);
  const encoder = new TextEncoder();
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // a few items per pull, judged concurrently, so the first results leave before the last are computed
      const chunk = items.slice(next, next + 16);
      next += chunk.length;
      const results = await Promise.all(
        chunk.map(async ({ line, parsed }) => {
          try {
            return { line, ...(await judgeParsed(parsed, judge)) };
          } catch (error) {
            // the 200 is sent: a spent budget refuses the items still to judge, each saying so
            if (error instanceof LlmError && error.kind === "budget") {
              return {
                index: parsed.index,
                line,
                error: { status: 429, errors: [{ field: "item", message: error.message }], budget: error.options.budget },
              };
            }
            console.error("judge batch item failed", error);
            return { index: parsed.index, line, error: { status: 500, errors: [{ field: "item", message: "internal error" }] } };
          }
        }),
      );
      const out = results.map((r) => `${JSON.stringify(r)}\n`).join("");
      if (out) controller.enqueue(encoder.encode(out));
      if (next >= items.length) controller.close();
    },
  });
  return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" });
}
