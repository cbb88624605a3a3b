import { createRoute, z } from "@hono/zod-openapi";
import { API_LIMITS } from "@iopo/common";
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { renderPrompt } from "../datasets/records.ts";
import { findDataset } from "../datasets/store/access.ts";
import { parseRecordsBody } from "../datasets/store/ingest.ts";
import { instructionsByTraceId, recordsInRange, toRecord } from "../datasets/store/rows.ts";
import { loadTaxonomyIndex, resolveDimension } from "../datasets/taxonomy.ts";
import { accuracyReport, evaluateIfevalRecord, JudgeInputError, type IfevalInputRecord, type IfevalOutputRecord } from "../judge/index.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError, type FieldError } from "../lib/problem.ts";
import {
  judgeFreeText,
  PROMPT_VERSION,
  traceItemStatus,
  traceReport,
  traceSubset,
  type LlmVerdict,
  type TraceConstraintOutcome,
  type TraceSubset,
} from "../judge/llm/index.ts";
import { JUDGE_LIMITS, requestLlmJudge } from "./judge.ts";

/** A verifiable prompt set as stored by `npm start` (datasets `ifeval`, `ifbench`: instruction records with checkers). */
async function loadVerifiablePrompts(
  db: D1Database,
  name: string,
  principal: Parameters<typeof findDataset>[2],
): Promise<IfevalInputRecord[]> {
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

/** The verifiable benchmarks scored by the checkers, each against its prompt set stored in D1. */
const VERIFIABLE_SUITES = {
  ifeval: { title: "IFEval", importFormat: "ifeval" },
  ifbench: { title: "IFBench", importFormat: "ifeval" },
} as const;
type VerifiableSuite = keyof typeof VERIFIABLE_SUITES;

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

const SubmissionSchema = z
  .object({
    prompt: z.string().optional(),
    key: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    response: z.string().max(JUDGE_LIMITS.responseChars),
  })
  .refine((s) => s.prompt !== undefined || s.key !== undefined, { message: "needs `prompt` or `key`", path: ["prompt"] });

// --- TRACE ------------------------------------------------------------------------------------

/** Documented limits of TRACE scoring: every item is one LLM call (plus retries). */
export const TRACE_LIMITS = { itemsPerRequest: API_LIMITS.traceItems } as const;

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
    `At most ${TRACE_LIMITS.itemsPerRequest} responses per request (413 beyond): \`npx iopo trace-eval\` sends a whole file in batches and merges the reports. 503 when no LLM judge is configured.`,
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

const TraceSubmissionSchema = z
  .object({
    id: z.union([z.string().min(1).max(100), z.number().int().nonnegative()]),
    response: z.string().max(JUDGE_LIMITS.responseChars),
  })
  .strict();

/**
 * An LLM-scored benchmark's submissions: the body's lines (400 for bad JSON, 413 beyond `max`),
 * each validated by `schema`, `keyField` unique across lines; 422 naming every bad line and field.
 */
export async function readSubmissions<T extends Record<string, unknown>>(
  c: Context<AppEnv>,
  schema: z.ZodType<T>,
  options: { max: number; noun: string; command: string; keyField: keyof T & string },
): Promise<{ line: number; value: T }[]> {
  const lines = parseSubmissions(await bodyText(c), requestMediaType(c) === "application/json");
  if (lines.length > options.max) {
    throw new ProblemError(
      413,
      "payload-too-large",
      `At most ${options.max} ${options.noun} per request; got ${lines.length}. \`${options.command}\` sends a file in batches.`,
    );
  }
  const errors: FieldError[] = [];
  const out: { line: number; value: T }[] = [];
  const seen = new Map<string, number>();
  for (const { line, value } of lines) {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        errors.push({ field: issue.path.map(String).join(".") || "line", line, message: issue.message });
      continue;
    }
    const key = String(parsed.data[options.keyField]);
    if (seen.has(key)) {
      errors.push({ field: options.keyField, line, message: `${options.keyField} ${key} was already given on line ${seen.get(key)}` });
      continue;
    }
    seen.set(key, line);
    out.push({ line, value: parsed.data });
  }
  if (errors.length) throw new ProblemError(422, "validation", `${errors.length} submission line(s) are invalid.`, errors.slice(0, 200));
  if (out.length === 0)
    throw new ProblemError(422, "validation", `No ${options.noun} were submitted.`, [{ field: "body", message: "empty" }]);
  return out;
}

async function scoreTrace(c: Context<AppEnv>, query: { dataset: string; cache: "use" | "bypass" }) {
  const submissions = (
    await readSubmissions(c, TraceSubmissionSchema, {
      max: TRACE_LIMITS.itemsPerRequest,
      noun: "responses",
      command: "npx iopo trace-eval",
      keyField: "id",
    })
  ).map(({ line, value }) => ({ line, id: String(value.id), response: value.response }));

  const judge = requestLlmJudge(c);
  if (!judge.config.provider) {
    throw new ProblemError(503, "service-unavailable", `TRACE scoring needs the LLM judge, and ${judge.config.unavailableReason}.`);
  }
  const dataset = await findDataset(c.env.DB, query.dataset, c.get("principal"), "read").catch((error) => {
    if (error instanceof ProblemError && error.status === 404) {
      throw new ProblemError(
        404,
        "not-found",
        `The TRACE evaluation set "${query.dataset}" is not in this database; \`npm start\` seeds it, or import it with \`npx iopo import --format trace\`.`,
        [{ field: "query.dataset", message: "unknown dataset" }],
      );
    }
    throw error;
  });
  const instructions = await instructionsByTraceId(
    c.env.DB,
    dataset.id,
    submissions.map((s) => s.id),
  );
  const unmatched = submissions.filter((s) => !instructions.has(s.id));
  if (unmatched.length) {
    throw new ProblemError(
      422,
      "validation",
      `${unmatched.length} response(s) match no instruction of "${dataset.name}".`,
      unmatched.slice(0, 200).map((s) => ({ field: "id", line: s.line, message: `no TRACE instruction with id ${s.id}` })),
    );
  }
  const taxonomy = await loadTaxonomyIndex(c.env.DB);
  const normalise = (dimension: string | undefined) =>
    dimension === undefined ? null : (resolveDimension(taxonomy, dimension) ?? dimension);

  const verdicts = await Promise.all(
    submissions.map(async (s) => {
      const instruction = instructions.get(s.id)!;
      const judged: LlmVerdict[] = await judgeFreeText(judge, {
        instruction: renderPrompt(instruction),
        response: s.response,
        constraints: instruction.constraints.map((k) =>
          k.dimension !== undefined ? { text: k.text, dimension: k.dimension } : { text: k.text },
        ),
        cache: query.cache,
      });
      const results = instruction.constraints.map((k, i) => {
        const dimension = normalise(k.dimension);
        return {
          text: k.text,
          dimension,
          type: dimension === null ? null : (taxonomy.typeOfDimension.get(dimension) ?? null),
          ...judged[i]!,
        };
      });
      const subset: TraceSubset = traceSubset(s.id);
      const status = traceItemStatus(results as TraceConstraintOutcome[]);
      return {
        id: s.id,
        line: s.line,
        subset,
        status,
        followed_all: status === "followed",
        errors: results.filter((r) => r.status === "error").length,
        results,
      };
    }),
  );
  const { provider, settings } = judge.config;
  return c.json(
    {
      report: {
        dataset: dataset.name,
        dataset_instructions: dataset.recordCount,
        instructions: verdicts.length,
        ...traceReport(verdicts),
        judge: { provider: provider!.kind, model: provider!.model, prompt_version: PROMPT_VERSION, pass_score: settings.passScore },
      },
      verdicts,
    },
    200,
  );
}

export const benchmarkRoutes = createRouter()
  .openapi(traceScoreRoute, (c) => scoreTrace(c, c.req.valid("query")) as never)
  .openapi(verifiableScoreRoute("ifeval"), (c) => scoreVerifiable(c, "ifeval", c.req.valid("query").dataset) as never)
  .openapi(verifiableScoreRoute("ifbench"), (c) => scoreVerifiable(c, "ifbench", c.req.valid("query").dataset) as never);

/** Judges submitted responses with the checkers against a stored verifiable prompt set. */
async function scoreVerifiable(c: Context<AppEnv>, suite: VerifiableSuite, dataset: string): Promise<Response> {
  const type = requestMediaType(c);
  const text = await bodyText(c);
  const lines = parseSubmissions(text, type === "application/json");
  if (lines.length > API_LIMITS.verifiableItems)
    throw new ProblemError(413, "payload-too-large", `At most ${API_LIMITS.verifiableItems} responses per request.`);
  const errors: FieldError[] = [];
  const submissions: { line: number; prompt?: string; key?: number; response: string }[] = [];
  for (const { line, value } of lines) {
    const parsed = SubmissionSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        errors.push({ field: issue.path.map(String).join(".") || "line", line, message: issue.message });
      continue;
    }
    submissions.push({ line, ...parsed.data, key: parsed.data.key === undefined ? undefined : Number(parsed.data.key) });
  }
  if (errors.length) throw new ProblemError(422, "validation", `${errors.length} submission line(s) are invalid.`, errors.slice(0, 200));
  if (submissions.length === 0)
    throw new ProblemError(422, "validation", "No responses were submitted.", [{ field: "body", message: "empty" }]);

  const prompts = await loadVerifiablePrompts(c.env.DB, dataset, c.get("principal"));
  // IFBench's reference matches prompts modulo surrounding whitespace; IFEval's exactly
  const promptKey = suite === "ifbench" ? (prompt: string) => prompt.trim() : (prompt: string) => prompt;
  const byPrompt = new Map(prompts.map((p) => [promptKey(p.prompt), p]));
  const byKey = new Map(prompts.map((p) => [p.key, p]));
  const unmatched = submissions.filter((s) => !(s.prompt !== undefined ? byPrompt.has(promptKey(s.prompt)) : byKey.has(s.key!)));
  if (unmatched.length) {
    throw new ProblemError(
      422,
      "validation",
      `${unmatched.length} response(s) match no prompt of the ${VERIFIABLE_SUITES[suite].title} set.`,
      unmatched.slice(0, 200).map((s) => ({
        field: s.prompt !== undefined ? "prompt" : "key",
        line: s.line,
        message: `matches no ${VERIFIABLE_SUITES[suite].title} prompt`,
      })),
    );
  }
  const recordOf = (s: (typeof submissions)[number]) => (s.prompt !== undefined ? byPrompt.get(promptKey(s.prompt))! : byKey.get(s.key!)!);
  // A prompt answered twice would be counted twice: refused, like a repeated TRACE id.
  const firstLine = new Map<number, number>();
  const repeated: FieldError[] = [];
  for (const s of submissions) {
    const key = recordOf(s).key;
    const first = firstLine.get(key);
    if (first === undefined) firstLine.set(key, s.line);
    else
      repeated.push({
        field: s.prompt !== undefined ? "prompt" : "key",
        line: s.line,
        message: `the prompt of key ${key} was already answered on line ${first}`,
      });
  }
  if (repeated.length) {
    throw new ProblemError(
      422,
      "validation",
      `${repeated.length} response(s) answer a prompt already answered; send one response per prompt.`,
      repeated.slice(0, 200),
    );
  }
  const strict: IfevalOutputRecord[] = [];
  const loose: IfevalOutputRecord[] = [];
  const verdicts = [];
  const seen = new Set<number>();
  for (const s of submissions) {
    const record = recordOf(s);
    seen.add(record.key);
    let verdict;
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
    strict.push(verdict.strict!.output);
    loose.push(verdict.loose!.output);
    verdicts.push({
      key: record.key,
      line: s.line,
      strict: {
        follow_all_instructions: verdict.strict!.output.follow_all_instructions,
        follow_instruction_list: verdict.strict!.output.follow_instruction_list,
        results: verdict.strict!.results,
      },
      loose: {
        follow_all_instructions: verdict.loose!.output.follow_all_instructions,
        follow_instruction_list: verdict.loose!.output.follow_instruction_list,
        results: verdict.loose!.results,
      },
    });
  }
  return c.json(
    {
      report: {
        prompts: strict.length,
        instructions: strict.reduce((n, o) => n + o.instruction_id_list.length, 0),
        strict: accuracyReport(strict),
        loose: accuracyReport(loose),
        prompts_without_response: prompts.filter((p) => !seen.has(p.key)).length,
      },
      verdicts,
    },
    200,
  );
}

function parseSubmissions(text: string, isJson: boolean): { line: number; value: unknown }[] {
  const { records, errors } = parseRecordsBody(text, !isJson);
  if (errors.length) throw new ProblemError(400, "malformed-json", `${errors.length} line(s) are not valid JSON.`, errors.slice(0, 200));
  return records;
}
