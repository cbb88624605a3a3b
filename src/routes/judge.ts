import { createRoute, z } from "@hono/zod-openapi";
import { LIMITS } from "@iopo/common";
import { JudgeResponseSchema } from "@iopo/common/api";
import { checkerCatalog } from "../judge/llm/catalog.ts";
import { requestLlmJudge } from "../judge/llm/from-env.ts";
import { judgeJsonBatch, judgeNdjsonBatch } from "../judge/service/batch.ts";
import { judgeItem, JudgeItemSchema, SERVED_LIMITS, WORK_FORMULA } from "../judge/service/item.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";

/** The judge's routes: one item, a batch, the checker registry with the limits (src/judge/service/). */

const { kwargs, work } = LIMITS;

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
    `Limits: response ≤ ${LIMITS.responseChars} characters, instruction ≤ ${LIMITS.instructionChars}, ≤ ${LIMITS.constraints} constraints, ` +
    `kwargs phrases ≤ ${kwargs.phraseChars} characters, passages ≤ ${kwargs.passageChars}, lists ≤ ${kwargs.listItems} items, none blank, ` +
    `and at most ${work.maxWorkPerRequest} character-checks of work, ${WORK_FORMULA} (422 beyond; all in GET /v1/checkers \`limits\`).`,
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
    `Results keep input order and carry \`index\`; a bad item yields \`{index, error: {status, errors}}\` instead of failing the batch. At most ${LIMITS.judgeItems} items, of which at most ${LIMITS.judgeLlmItems} with free-text constraints, and at most ${work.maxWorkPerRequest} character-checks of work for the whole batch (413 beyond); LLM calls run at most LLM_CONCURRENCY at a time.`,
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
    return c.json(await judgeItem(c.env.DB, c.req.valid("json"), requestLlmJudge(c)), 200);
  })
  .openapi(batchRoute, async (c) => {
    const text = await bodyText(c);
    if (requestMediaType(c) === "application/json")
      return c.json({ results: await judgeJsonBatch(c.env.DB, text, requestLlmJudge(c)) }, 200) as never;
    const stream = await judgeNdjsonBatch(c.env.DB, text, requestLlmJudge(c));
    return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" }) as never; // documented above
  })
  .openapi(checkersRoute, (c) => c.json({ checkers: checkerCatalog(), limits: SERVED_LIMITS }, 200));
