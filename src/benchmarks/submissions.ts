/**
 * A scoring request's submissions, read one way for every benchmark (IFEval, IFBench, TRACE,
 * CFBench): NDJSON or a JSON array (400 for what is not JSON), at most `max` (413), each line
 * validated by the benchmark's schema and, where it names one, its key unique across lines; 422
 * naming every bad line and field.
 */
import type { z } from "@hono/zod-openapi";
import { parseRecordsBody } from "../datasets/store/ingest.ts";
import { ProblemError, type FieldError } from "../lib/problem.ts";

export interface SubmissionRules<T> {
  max: number;
  /** What the lines are ("responses", "items"), for messages. */
  noun: string;
  /** The command that sends a larger file in batches, named in the 413; none when there is none. */
  command?: string;
  /** A field no two lines may share. */
  keyField?: keyof T & string;
}

export function readSubmissions<T extends Record<string, unknown>>(
  text: string,
  isJson: boolean,
  schema: z.ZodType<T>,
  rules: SubmissionRules<T>,
): { line: number; value: T }[] {
  const { records: lines, errors: notJson } = parseRecordsBody(text, !isJson);
  if (notJson.length) throw new ProblemError(400, "malformed-json", `${notJson.length} line(s) are not valid JSON.`, notJson.slice(0, 200));
  if (lines.length > rules.max) {
    const batches = rules.command ? `; got ${lines.length}. \`${rules.command}\` sends a file in batches.` : ".";
    throw new ProblemError(413, "payload-too-large", `At most ${rules.max} ${rules.noun} per request${batches}`);
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
    if (rules.keyField) {
      const key = String(parsed.data[rules.keyField]);
      if (seen.has(key)) {
        errors.push({ field: rules.keyField, line, message: `${rules.keyField} ${key} was already given on line ${seen.get(key)}` });
        continue;
      }
      seen.set(key, line);
    }
    out.push({ line, value: parsed.data });
  }
  if (errors.length) throw new ProblemError(422, "validation", `${errors.length} submission line(s) are invalid.`, errors.slice(0, 200));
  if (out.length === 0)
    throw new ProblemError(422, "validation", `No ${rules.noun} were submitted.`, [{ field: "body", message: "empty" }]);
  return out;
}
