import { createRoute, z } from "@hono/zod-openapi";
import { LIMITS } from "@iopo/common";
import type { Context } from "hono";
import { scoreTrace } from "../benchmarks/trace.ts";
import { scoreVerifiable, VERIFIABLE_SUITES, type VerifiableSuite } from "../benchmarks/verifiable.ts";
import type { AppEnv } from "../env.ts";
import { requestLlmJudge } from "../judge/llm/from-env.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";

/** Benchmark scoring: IFEval and IFBench by the checkers, TRACE by the LLM judge (src/benchmarks/). */

const verifiableScoreRoute = (suite: VerifiableSuite) =>
  createRoute({
    method: "post",
    path: `/v1/benchmarks/${suite}/score`,
    tags: ["Benchmarks"],
    summary: `Score responses on ${VERIFIABLE_SUITES[suite].title} (strict and loose), against the prompt set stored in D1`,
    description:
      "NDJSON (or a JSON array) of `{prompt, response}` or `{key, response}`. Responses are matched to prompts by the prompt string (as the reference does" +
      (suite === "ifbench" ? ", ignoring surrounding whitespace like IFBench's" : "") +
      ") or by key. Returns the report (prompt- and instruction-level accuracy, per category and per id, strict and loose) and each record's verdicts in the reference's output shape. " +
      `Prompts without a submitted response are not counted; their number is reported. The prompt set is the dataset \`${suite}\` unless \`dataset\` says otherwise (\`npm start\` seeds it).`,
    middleware: [requireScope("judge"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
    request: {
      query: z.object({
        dataset: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/)
          .default(suite),
      }),
      body: {
        required: true,
        content: {
          "application/x-ndjson": {
            schema: { type: "object", properties: { prompt: { type: "string" }, key: { type: "integer" }, response: { type: "string" } } },
          },
          "application/json": { schema: { type: "array", items: { type: "object" } } },
        },
      },
    },
    responses: {
      200: jsonContent(
        z.object({
          report: z.record(z.string(), z.unknown()),
          verdicts: z.array(z.record(z.string(), z.unknown())),
        }),
        "Report and per-record verdicts",
      ),
      ...problemResponses(400, 401, 403, 404, 413, 415, 422),
    },
  });

const traceScoreRoute = createRoute({
  method: "post",
  path: "/v1/benchmarks/trace/score",
  tags: ["Benchmarks"],
  summary: "Score responses on TRACE (IF-S, IF-M) with the LLM judge, against the evaluation set stored in D1",
  description:
    "NDJSON (or a JSON array) of `{id, response}`; `id` is the TRACE id (`meta.id` of the instruction records of the dataset, `trace-eval` by default, which `npm start` seeds). " +
    "Every constraint is judged by the LLM judge against the rendered prompt (one call per response, at most LLM_CONCURRENCY at once, cached in D1); an instruction is followed only if every constraint passes (score ≥ LLM_PASS_SCORE, default 10). " +
    "The report gives IF-S (ids 0-199), IF-M (the rest) and overall accuracy, and constraint accuracy per type and dimension (the taxonomy in D1). " +
    "A constraint the judge could not grade is an error: counted and listed (ids), never a pass; such an instruction without a failed constraint is `undetermined`. " +
    `At most ${LIMITS.traceItems} responses per request (413 beyond): \`npx iopo trace-eval\` sends a whole file in batches and merges the reports. 503 when no LLM judge is configured.`,
  middleware: [requireScope("judge"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    query: z.object({
      dataset: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/)
        .default("trace-eval"),
      cache: z.enum(["use", "bypass"]).default("use"),
    }),
    body: {
      required: true,
      content: {
        "application/x-ndjson": { schema: { type: "object", properties: { id: { type: "string" }, response: { type: "string" } } } },
        "application/json": {
          schema: { type: "array", items: { type: "object", properties: { id: { type: "string" }, response: { type: "string" } } } },
        },
      },
    },
  },
  responses: {
    200: jsonContent(
      z.object({
        report: z.record(z.string(), z.unknown()),
        verdicts: z.array(z.record(z.string(), z.unknown())),
      }),
      "Report and per-response verdicts",
    ),
    ...problemResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

/** A scoring request's body, and whether it is a JSON array (else NDJSON). */
const submitted = async (c: Context<AppEnv>) => ({ body: await bodyText(c), isJson: requestMediaType(c) === "application/json" });

export const benchmarkRoutes = createRouter()
  .openapi(traceScoreRoute, async (c) => {
    const request = { ...c.req.valid("query"), ...(await submitted(c)) };
    return c.json(await scoreTrace(c.env.DB, c.get("principal"), requestLlmJudge(c), request), 200) as never;
  })
  .openapi(verifiableScoreRoute("ifeval"), async (c) => {
    const request = { suite: "ifeval" as const, dataset: c.req.valid("query").dataset, ...(await submitted(c)) };
    return c.json(await scoreVerifiable(c.env.DB, c.get("principal"), request), 200) as never;
  })
  .openapi(verifiableScoreRoute("ifbench"), async (c) => {
    const request = { suite: "ifbench" as const, dataset: c.req.valid("query").dataset, ...(await submitted(c)) };
    return c.json(await scoreVerifiable(c.env.DB, c.get("principal"), request), 200) as never;
  });
