import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import {
  IFEVAL_CHECKERS,
  JudgeInputError,
  judgeConstraints,
  listCheckers,
  type JudgeIssue,
  type JudgeResult,
} from "../judge";
import { requireScope } from "../lib/auth";
import { acceptBody, JSON_TYPES, NDJSON_TYPES } from "../lib/middleware";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi";
import { ProblemError, type FieldError } from "../lib/problem";

/** Documented limits of the judge routes (422 beyond the per-item ones, 413 beyond the batch size). */
export const JUDGE_LIMITS = {
  responseChars: 200_000,
  constraintsPerItem: 64,
  itemsPerBatch: 1000,
} as const;

const JUDGE_MODES = ["strict", "loose", "both"] as const;
type Mode = (typeof JUDGE_MODES)[number];

const RuleConstraintSchema = z
  .object({
    id: z.string().min(1).max(100).openapi({ example: "length_constraints:number_words" }),
    kwargs: z.record(z.string(), z.unknown()).nullable().optional().openapi({ example: { relation: "at least", num_words: 300 } }),
  })
  .strict()
  .openapi("RuleConstraint");

const JudgeItemSchema = z
  .object({
    response: z.string().max(JUDGE_LIMITS.responseChars, `at most ${JUDGE_LIMITS.responseChars} characters`),
    constraints: z.array(RuleConstraintSchema).min(1).max(JUDGE_LIMITS.constraintsPerItem, `at most ${JUDGE_LIMITS.constraintsPerItem} constraints`),
    mode: z.enum(JUDGE_MODES).default("strict"),
  })
  .strict()
  .openapi("JudgeRequest");
type JudgeItem = z.infer<typeof JudgeItemSchema>;

const ResultSchema = z
  .object({
    id: z.string(),
    kind: z.literal("rule"),
    passed: z.boolean(),
    evidence: z.record(z.string(), z.unknown()).openapi({ example: { words: 288, relation: "at least", target: 300 } }),
  })
  .openapi("ConstraintVerdict");
const VerdictSchema = z.object({ followed_all: z.boolean(), results: z.array(ResultSchema) }).openapi("JudgeVerdict");
const JudgeResponseSchema = z
  .union([
    VerdictSchema.extend({ mode: z.enum(["strict", "loose"]) }),
    z.object({ mode: z.literal("both"), followed_all: z.boolean(), strict: VerdictSchema, loose: VerdictSchema }),
  ])
  .openapi("JudgeResponse");

type JudgeOutput = (JudgeResult & { mode: "strict" | "loose" }) | { mode: "both"; followed_all: boolean; strict: JudgeResult; loose: JudgeResult };

/** Judges one validated item; bad constraints (unknown id, invalid kwargs) raise JudgeInputError. */
function judgeItem(item: JudgeItem): JudgeOutput {
  const constraints = item.constraints.map((c) => ({ id: c.id, kwargs: c.kwargs ?? {} }));
  const judge = (mode: "strict" | "loose") => judgeConstraints(item.response, constraints, mode, { pathPrefix: ["constraints"] });
  if (item.mode === "both") {
    const strict = judge("strict");
    return { mode: "both", followed_all: strict.followed_all, strict, loose: judge("loose") };
  }
  return { mode: item.mode as "strict" | "loose", ...judge(item.mode as "strict" | "loose") };
}

const issueToFieldError = (location: string) => (issue: JudgeIssue): FieldError => ({
  field: [location, ...issue.path.map(String)].join("."),
  message: issue.message,
});

function zodErrors(location: string, issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldError[] {
  return issues.map((i) => ({ field: [location, ...i.path.map(String)].join("."), message: i.message }));
}

/** One batch item's outcome: its verdict, or the 422 it would have got on its own. */
function judgeBatchItem(value: unknown, index: number): Record<string, unknown> {
  const parsed = JudgeItemSchema.safeParse(value);
  if (!parsed.success) return { index, error: { status: 422, errors: zodErrors("item", parsed.error.issues) } };
  try {
    return { index, ...judgeItem(parsed.data) };
  } catch (error) {
    if (error instanceof JudgeInputError) return { index, error: { status: 422, errors: error.issues.map(issueToFieldError("item")) } };
    throw error;
  }
}

// --- routes ----------------------------------------------------------------------------------

const judgeRoute = createRoute({
  method: "post",
  path: "/v1/judge",
  tags: ["Judge"],
  summary: "Judge one response against a list of constraints",
  description:
    "Verifiable constraints are decided by the registered checkers exactly as the IFEval reference (strict or loose), with what each measured as evidence. " +
    `Limits: response ≤ ${JUDGE_LIMITS.responseChars} characters, ≤ ${JUDGE_LIMITS.constraintsPerItem} constraints (422 beyond).`,
  middleware: [requireScope("read"), acceptBody(...JSON_TYPES)] as const,
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
    `Results keep input order and carry \`index\`; a bad item yields \`{index, error: {status, errors}}\` instead of failing the batch. At most ${JUDGE_LIMITS.itemsPerBatch} items (413 beyond).`,
  middleware: [requireScope("read"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: { type: "object", properties: { items: { type: "array", items: { $ref: "#/components/schemas/JudgeRequest" } } } } },
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

const checkersRoute = createRoute({
  method: "get",
  path: "/v1/checkers",
  tags: ["Judge"],
  summary: "Every registered checker with its kwargs JSON Schema and instruction template",
  middleware: [requireScope("read")] as const,
  responses: { 200: jsonContent(z.object({ checkers: z.array(CheckerSchema) }), "The registry"), ...problemResponses(401, 403) },
});

/** The checker's instruction text with `{kwarg}` placeholders, for building prompts. */
function instructionTemplate(id: string, schema: Record<string, unknown>): string | null {
  const checker = (IFEVAL_CHECKERS as Record<string, { describe(kwargs: unknown): string }>)[id];
  if (!checker) return null;
  const properties = (schema.properties ?? {}) as Record<string, { type?: string }>;
  const placeholders = Object.fromEntries(
    Object.entries(properties).map(([name, p]) => [name, p.type === "array" ? [`{${name}}`] : `{${name}}`]),
  );
  try {
    // a kwarg the text looks up in a table (a language code) renders as "undefined": keep its name
    return checker.describe(placeholders).replaceAll("undefined", `{${Object.keys(properties)[0] ?? "value"}}`);
  } catch {
    return null;
  }
}

let checkerCache: z.infer<typeof CheckerSchema>[] | undefined;

export const judgeRoutes = createRouter()
  .openapi(judgeRoute, async (c) => {
    try {
      return c.json(judgeItem(c.req.valid("json")) as z.infer<typeof JudgeResponseSchema>, 200);
    } catch (error) {
      if (error instanceof JudgeInputError) {
        throw new ProblemError(422, "validation", "Some constraints cannot be judged as given.", error.issues.map(issueToFieldError("body")));
      }
      throw error;
    }
  })
  .openapi(batchRoute, async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const text = await c.req.text();
    if (type === "application/json") return c.json({ results: judgeJsonBatch(text) }, 200) as never;
    return ndjsonBatch(c, text) as never; // a streamed NDJSON body, documented above
  })
  .openapi(checkersRoute, (c) => {
    checkerCache ??= listCheckers().map((info) => ({
      id: info.id,
      family: info.family,
      category: info.category,
      instruction_template: instructionTemplate(info.id, info.kwargs_schema),
      kwargs_schema: info.kwargs_schema,
    }));
    return c.json({ checkers: checkerCache }, 200);
  });

function judgeJsonBatch(text: string): Record<string, unknown>[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(400, "malformed-json", `The request body is not valid JSON: ${(error as Error).message}`, [{ field: "body", message: "not valid JSON" }]);
  }
  const items = Array.isArray(body) ? body : (body as { items?: unknown })?.items;
  if (!Array.isArray(items)) {
    throw new ProblemError(422, "validation", "Send `{items: [...]}`, a JSON array of items, or NDJSON.", [{ field: "body.items", message: "expected an array" }]);
  }
  checkBatchSize(items.length);
  return items.map((item, i) => judgeBatchItem(item, i));
}

function checkBatchSize(n: number) {
  if (n > JUDGE_LIMITS.itemsPerBatch) {
    throw new ProblemError(413, "payload-too-large", `At most ${JUDGE_LIMITS.itemsPerBatch} items per batch; got ${n}.`);
  }
  if (n === 0) throw new ProblemError(422, "validation", "The batch is empty.", [{ field: "body", message: "no items" }]);
}

/** NDJSON in, NDJSON out: results stream back line by line as they are judged. */
function ndjsonBatch(c: Context<AppEnv>, text: string): Response {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const items = lines.map((line, i) => ({ line: i + 1, line_text: line })).filter((l) => l.line_text.trim() !== "");
  checkBatchSize(items.length);
  const encoder = new TextEncoder();
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      // judge a few items per pull so the first results leave before the last are computed
      let out = "";
      for (let n = 0; n < 16 && next < items.length; n++, next++) {
        const { line, line_text } = items[next]!;
        let result: Record<string, unknown>;
        try {
          result = { line, ...judgeBatchItem(JSON.parse(line_text), next) };
        } catch (error) {
          result =
            error instanceof SyntaxError
              ? { index: next, line, error: { status: 400, errors: [{ field: "line", message: `not valid JSON: ${error.message}` }] } }
              : { index: next, line, error: { status: 500, errors: [{ field: "item", message: "internal error" }] } };
          if (!(error instanceof SyntaxError)) console.error("judge batch item failed", error);
        }
        out += `${JSON.stringify(result)}\n`;
      }
      if (out) controller.enqueue(encoder.encode(out));
      if (next >= items.length) controller.close();
    },
  });
  return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" });
}
