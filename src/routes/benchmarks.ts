import { createRoute, z } from "@hono/zod-openapi";
import { findDataset, recordsInRange, toRecord } from "../datasets/store";
import { accuracyReport, evaluateIfevalRecord, JudgeInputError, type IfevalInputRecord, type IfevalOutputRecord } from "../judge";
import { requireScope } from "../lib/auth";
import { acceptBody, JSON_TYPES, NDJSON_TYPES } from "../lib/middleware";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi";
import { ProblemError, type FieldError } from "../lib/problem";
import { JUDGE_LIMITS } from "./judge";

/** The IFEval prompt set as stored by `npm start` (dataset `ifeval`, instruction records with checkers). */
async function loadIfevalPrompts(db: D1Database, name: string, principal: Parameters<typeof findDataset>[2]): Promise<IfevalInputRecord[]> {
  const dataset = await findDataset(db, name, principal, "read").catch((error) => {
    if (error instanceof ProblemError && error.status === 404) {
      throw new ProblemError(404, "not-found", `The IFEval prompt set "${name}" is not in this database; \`npm start\` seeds it, or import it with \`npx iopo import --format ifeval\`.`, [
        { field: "query.dataset", message: "unknown dataset" },
      ]);
    }
    throw error;
  });
  const prompts: IfevalInputRecord[] = [];
  for await (const row of recordsInRange(db, dataset.id, 0, dataset.record_count)) {
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

const scoreRoute = createRoute({
  method: "post",
  path: "/v1/benchmarks/ifeval/score",
  tags: ["Benchmarks"],
  summary: "Score responses on IFEval (strict and loose), against the prompt set stored in D1",
  description:
    "NDJSON (or a JSON array) of `{prompt, response}` or `{key, response}`. Responses are matched to prompts by the exact prompt string (as the reference does) or by key. " +
    "Returns the report (prompt- and instruction-level accuracy, per category and per id, strict and loose) and each record's verdicts in the reference's output shape. " +
    "Prompts without a submitted response are not counted; their number is reported.",
  middleware: [requireScope("read"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    query: z.object({ dataset: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/).default("ifeval") }),
    body: {
      required: true,
      content: {
        "application/x-ndjson": { schema: { type: "object", properties: { prompt: { type: "string" }, key: { type: "integer" }, response: { type: "string" } } } },
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

export const benchmarkRoutes = createRouter().openapi(scoreRoute, async (c) => {
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const text = await c.req.text();
  const lines = parseSubmissions(text, type === "application/json");
  if (lines.length > 10_000) throw new ProblemError(413, "payload-too-large", "At most 10000 responses per request.");
  const errors: FieldError[] = [];
  const submissions: { line: number; prompt?: string; key?: number; response: string }[] = [];
  for (const { line, value } of lines) {
    const parsed = SubmissionSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors.push({ field: issue.path.map(String).join(".") || "line", line, message: issue.message });
      continue;
    }
    submissions.push({ line, ...parsed.data, key: parsed.data.key === undefined ? undefined : Number(parsed.data.key) });
  }
  if (errors.length) throw new ProblemError(422, "validation", `${errors.length} submission line(s) are invalid.`, errors.slice(0, 200));
  if (submissions.length === 0) throw new ProblemError(422, "validation", "No responses were submitted.", [{ field: "body", message: "empty" }]);

  const prompts = await loadIfevalPrompts(c.env.DB, c.req.valid("query").dataset, c.get("principal"));
  const byPrompt = new Map(prompts.map((p) => [p.prompt, p]));
  const byKey = new Map(prompts.map((p) => [p.key, p]));
  const unmatched = submissions.filter((s) => !(s.prompt !== undefined ? byPrompt.has(s.prompt) : byKey.has(s.key!)));
  if (unmatched.length) {
    throw new ProblemError(
      422,
      "validation",
      `${unmatched.length} response(s) match no prompt of the IFEval set.`,
      unmatched.slice(0, 200).map((s) => ({ field: s.prompt !== undefined ? "prompt" : "key", line: s.line, message: "matches no IFEval prompt" })),
    );
  }
  const strict: IfevalOutputRecord[] = [];
  const loose: IfevalOutputRecord[] = [];
  const verdicts = [];
  const seen = new Set<number>();
  for (const s of submissions) {
    const record = s.prompt !== undefined ? byPrompt.get(s.prompt)! : byKey.get(s.key!)!;
    seen.add(record.key);
    let verdict;
    try {
      verdict = evaluateIfevalRecord(record, s.response);
    } catch (error) {
      if (error instanceof JudgeInputError) throw new ProblemError(409, "conflict", `The stored IFEval record ${record.key} is not judgeable: ${error.message}`);
      throw error;
    }
    strict.push(verdict.strict!.output);
    loose.push(verdict.loose!.output);
    verdicts.push({
      key: record.key,
      line: s.line,
      strict: { follow_all_instructions: verdict.strict!.output.follow_all_instructions, follow_instruction_list: verdict.strict!.output.follow_instruction_list, results: verdict.strict!.results },
      loose: { follow_all_instructions: verdict.loose!.output.follow_all_instructions, follow_instruction_list: verdict.loose!.output.follow_instruction_list, results: verdict.loose!.results },
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
});

function parseSubmissions(text: string, isJson: boolean): { line: number; value: unknown }[] {
  if (isJson) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ProblemError(400, "malformed-json", `The request body is not valid JSON: ${(error as Error).message}`, [{ field: "body", message: "not valid JSON" }]);
    }
    if (!Array.isArray(body)) throw new ProblemError(422, "validation", "A JSON body must be an array (or send NDJSON).", [{ field: "body", message: "expected an array" }]);
    return body.map((value, i) => ({ line: i + 1, value }));
  }
  const out: { line: number; value: unknown }[] = [];
  const errors: FieldError[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (error) {
      errors.push({ field: "line", line: i + 1, message: `not valid JSON: ${(error as Error).message}` });
    }
  });
  if (errors.length) throw new ProblemError(400, "malformed-json", `${errors.length} line(s) are not valid JSON.`, errors.slice(0, 200));
  return out;
}
