import { createRoute, z } from "@hono/zod-openapi";
import { LIMITS } from "@iopo/common";
import { scoreCfbench } from "../benchmarks/cfbench/scoring.ts";
import { requestLlmJudge } from "../judge/llm/from-env.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";

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
    `At most ${LIMITS.cfbenchItems} items per request (413 beyond). 503 when no LLM provider is configured.`,
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

export const cfbenchRoutes = createRouter().openapi(scoreRoute, async (c) => {
  const body = await bodyText(c);
  const request = { cache: c.req.valid("query").cache, body, isJson: requestMediaType(c) === "application/json" };
  return c.json(await scoreCfbench(requestLlmJudge(c), request), 200) as never;
});
