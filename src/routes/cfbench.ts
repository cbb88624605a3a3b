import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { CFBENCH_PROMPT_VERSION, CfbenchSubmissionSchema, judgeCfbenchItem, type CfbenchSubmission } from "../benchmarks/cfbench/judge.ts";
import { aggregate } from "../benchmarks/cfbench/score.ts";
import type { AppEnv } from "../env.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, JSON_TYPES, NDJSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError } from "../lib/problem.ts";
import { usageMeter, withUsage } from "../pipelines/llm.ts";
import { readSubmissions } from "./benchmarks.ts";
import { requestLlmJudge } from "./judge.ts";

/** Every CFBench item is one judge call (plus retries), so a request holds a bounded number. */
export const CFBENCH_LIMITS = { itemsPerRequest: 50 } as const;

const scoreRoute = createRoute({
  method: "post",
  path: "/v1/benchmarks/cfbench/score",
  tags: ["Benchmarks"],
  summary: "Score responses on CFBench with the LLM judge (CSR, ISR, PSR for easy, hard and full)",
  description:
    "NDJSON (or a JSON array) of CFBench items with a response, as the reference's `output/response/*_infer.json` holds them: `{idx, prompt, gold, split, criteria, response}`, " +
    "`criteria` as `[text, 主需|次需, type, dimension]`. (CFBench is published without a licence, so the project ships none of it: send items from your copy; `npx iopo cfbench` joins a responses file with `cfbench_data.json`.) " +
    "One judge call per item scores every criterion 0/1 in the reference's answer format (cached in D1, at most LLM_CONCURRENCY at once); an answer the strict reading rejects is asked again, then read with the reference's fallback. " +
    "Per item CSR (rounded to 2 places), ISR and PSR, and the means per split, exactly as the reference computes them; the items' `judge_response` can be replayed offline (`npx iopo cfbench --replay`). " +
    `At most ${CFBENCH_LIMITS.itemsPerRequest} items per request (413 beyond). 503 when no LLM provider is configured.`,
  middleware: [requireScope("read"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    query: z.object({ cache: z.enum(["use", "bypass"]).default("use") }),
    body: {
      required: true,
      content: {
        "application/x-ndjson": { schema: { type: "object" } },
        "application/json": { schema: { type: "array", items: { type: "object" } } },
      },
    },
  },
  responses: {
    200: jsonContent(
      z.object({ report: z.record(z.string(), z.unknown()), verdicts: z.array(z.record(z.string(), z.unknown())) }),
      "Scores and per-item verdicts",
    ),
    ...problemResponses(400, 401, 403, 413, 415, 422, 503),
  },
});

async function scoreCfbench(c: Context<AppEnv>, cache: "use" | "bypass") {
  const items: CfbenchSubmission[] = (
    await readSubmissions(c, CfbenchSubmissionSchema, {
      max: CFBENCH_LIMITS.itemsPerRequest,
      noun: "items",
      command: "npx iopo cfbench",
      keyField: "idx",
    })
  ).map((s) => s.value);

  const base = requestLlmJudge(c);
  if (!base.config.provider)
    throw new ProblemError(503, "service-unavailable", `CFBench scoring needs the LLM judge, and ${base.config.unavailableReason}.`);
  const meter = usageMeter();
  const judge = withUsage(base, meter);
  const verdicts = await Promise.all(items.map((item) => judgeCfbenchItem(judge, item, cache)));
  const { provider } = judge.config;
  return c.json(
    {
      report: {
        ...aggregate(verdicts.map((v) => ({ split: v.split, metric: v }))),
        judge_errors: verdicts.filter((v) => v.judge_error).length,
        judge: { provider: provider!.kind, model: provider!.model, prompt_version: CFBENCH_PROMPT_VERSION },
        usage: meter.totals,
      },
      verdicts,
    },
    200,
  );
}

export const cfbenchRoutes = createRouter().openapi(scoreRoute, (c) => scoreCfbench(c, c.req.valid("query").cache) as never);
