/**
 * `iopo trace-eval`: scores a file of responses on TRACE through the API's LLM judge
 * (POST /v1/benchmarks/trace/score), batch by batch, and merges the batches' verdicts into one
 * report (IF-S, IF-M, overall; per constraint type and dimension; grader errors listed).
 *
 *   iopo trace-eval --api <url> [--key <k>] --responses responses.jsonl [--out <dir>]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { traceReport, type TraceItemOutcome, type TraceReport } from "../../judge/llm/trace-report.ts";
import { ApiClient, LIMITS, ndjsonLines } from "@iopo/common";
import { apiConnection } from "../api-connection.ts";
import { InputError, parseCommandArgs, UsageError } from "@iopo/common/cli";
import { batchError } from "../errors.ts";

export const traceEvalUsage = `Usage: iopo trace-eval --api <url> [--key <key>] --responses <file.jsonl> [--out <dir>] [options]
  Scores responses on TRACE with the API's LLM judge (POST /v1/benchmarks/trace/score) and prints
  the merged report: IF-S (ids 0-199), IF-M, overall, accuracy per constraint type and dimension,
  and the ids whose constraints the judge could not grade (never counted as passes).
  <file.jsonl>: one {"id": <TRACE id>, "response": "..."} per line.
  --out <dir>            also write trace_report.json and trace_verdicts.jsonl there
  --dataset <name>       the evaluation set in the API's D1 (default trace-eval)
  --batch <n>            responses per request (default ${LIMITS.traceItems}, at most ${LIMITS.traceItems})
  --cache use|bypass     bypass: ask the judge again instead of using cached verdicts
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

interface ApiVerdict extends TraceItemOutcome {
  line: number;
  status: string;
  followed_all: boolean;
  errors: number;
  results: Array<TraceItemOutcome["results"][number] & { text: string; score?: number; explanation?: string; reason?: string }>;
}

interface ApiAnswer {
  report: { dataset: string; dataset_instructions: number; judge: Record<string, unknown> };
  verdicts: ApiVerdict[];
}

export interface TraceEvalReport extends TraceReport {
  dataset: string;
  responses: number;
  dataset_instructions: number;
  instructions_without_response: number;
  judge: Record<string, unknown>;
}

function readResponses(file: string): { fileLine: number; id: string; response: string }[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const out: { fileLine: number; id: string; response: string }[] = [];
  const seen = new Map<string, number>();
  for (const entry of ndjsonLines(text)) {
    const fileLine = entry.line;
    if ("error" in entry) throw new InputError(`${file}:${fileLine}: ${entry.error}`);
    const value = entry.value as { id?: unknown; response?: unknown };
    if (typeof value !== "object" || value === null) throw new InputError(`${file}:${fileLine}: expected an object {id, response}`);
    if (typeof value.id !== "string" && typeof value.id !== "number") throw new InputError(`${file}:${fileLine}: id: expected a TRACE id`);
    if (typeof value.response !== "string") throw new InputError(`${file}:${fileLine}: response: expected a string`);
    const id = String(value.id);
    if (seen.has(id)) throw new InputError(`${file}:${fileLine}: id ${id} was already given on line ${seen.get(id)}`);
    seen.set(id, fileLine);
    out.push({ fileLine, id, response: value.response });
  }
  if (out.length === 0) throw new InputError(`${file}: no responses`);
  return out;
}

export async function runTraceEval(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      responses: { type: "string" },
      out: { type: "string" },
      dataset: { type: "string" },
      batch: { type: "string" },
      cache: { type: "string" },
    },
    traceEvalUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const { base, key } = apiConnection(values);
  const problems: string[] = [];
  if (!base) problems.push("--api is required");
  if (!values.responses) problems.push("--responses is required");
  const batch = values.batch === undefined ? LIMITS.traceItems : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > LIMITS.traceItems)
    problems.push(`--batch must be an integer in [1, ${LIMITS.traceItems}]`);
  if (values.cache !== undefined && values.cache !== "use" && values.cache !== "bypass") problems.push("--cache must be use or bypass");
  if (problems.length) throw new UsageError(problems.join("; "), traceEvalUsage);

  const responses = readResponses(values.responses!);
  const query = new URLSearchParams();
  if (values.dataset) query.set("dataset", values.dataset);
  if (values.cache) query.set("cache", values.cache);
  const path = `/v1/benchmarks/trace/score${query.size ? `?${query}` : ""}`;
  const api = new ApiClient(base, { key, attempts: 3, backoffMs: 1000 });

  const verdicts: (ApiVerdict & { file_line: number })[] = [];
  let last: ApiAnswer | undefined;
  for (let i = 0; i < responses.length; i += batch) {
    const chunk = responses.slice(i, i + batch);
    let answer: ApiAnswer;
    try {
      // the route is idempotent (verdicts are cached), so a transient failure is retried
      answer = await api.postNdjson<ApiAnswer>(
        path,
        chunk.map((r) => ({ id: r.id, response: r.response })),
        { idempotent: true },
      );
    } catch (error) {
      const failure = batchError(error);
      if (failure instanceof InputError)
        throw new InputError(`${values.responses} lines ${chunk[0]!.fileLine}-${chunk.at(-1)!.fileLine}: ${failure.message}`);
      throw failure;
    }
    for (const v of answer.verdicts) verdicts.push({ ...v, file_line: chunk[v.line - 1]?.fileLine ?? v.line });
    last = answer;
    process.stderr.write(`  ${Math.min(i + batch, responses.length)}/${responses.length} responses judged\n`);
  }
  const report: TraceEvalReport = {
    dataset: last!.report.dataset,
    responses: verdicts.length,
    dataset_instructions: last!.report.dataset_instructions,
    instructions_without_response: Math.max(0, last!.report.dataset_instructions - verdicts.length),
    judge: last!.report.judge,
    ...traceReport(verdicts),
  };
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, "trace_report.json"), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(
      join(values.out, "trace_verdicts.jsonl"),
      verdicts.map(({ line: _line, file_line, ...v }) => JSON.stringify({ ...v, line: file_line })).join("\n") + "\n",
    );
  }
  process.stdout.write(formatTraceReport(report));
  if (report.errors.instructions > 0) {
    process.stderr.write(
      `${report.errors.constraints} constraint(s) of ${report.errors.instructions} response(s) could not be graded; they count as not followed (see errors.ids)\n`,
    );
  }
  return 0;
}

const pct = (a: { accuracy: number }) => (a.accuracy * 100).toFixed(1).padStart(5);

export function formatTraceReport(r: TraceEvalReport): string {
  const judge = r.judge as { provider?: string; model?: string; prompt_version?: string; pass_score?: number };
  const lines = [
    `TRACE on ${r.dataset}: ${r.responses} responses (${r.instructions_without_response} of ${r.dataset_instructions} instructions without one)`,
    `judge: ${judge.provider ?? "?"} ${judge.model ?? "?"}, prompt ${judge.prompt_version ?? "?"}, pass score ${judge.pass_score ?? "?"}`,
    "",
    `${"".padEnd(10)}${"accuracy".padStart(9)}  followed/total  undetermined  (excl. errors)`,
  ];
  for (const [name, a] of [
    ["IF-S", r.if_s],
    ["IF-M", r.if_m],
    ["overall", r.overall],
  ] as const) {
    lines.push(
      `${name.padEnd(10)}${pct(a).padStart(8)}%  ${`${a.followed}/${a.total}`.padStart(14)}  ${String(a.undetermined).padStart(12)}  (${pct({ accuracy: a.accuracy_excluding_errors })}%)`,
    );
  }
  lines.push(
    "",
    `constraints: ${pct(r.constraints)}% (${r.constraints.passed}/${r.constraints.total} passed, ${r.constraints.errors} errors)`,
    "",
    "by type:",
  );
  // one name column for both tables, as wide as their longest name (TRACE's run to 33 characters)
  const width = Math.max(0, ...[...Object.keys(r.by_type), ...Object.keys(r.by_dimension)].map((name) => name.length));
  const row = (name: string, a: TraceEvalReport["constraints"]) =>
    `  ${name.padEnd(width)}  ${pct(a)}%  ${a.passed}/${a.total}${a.errors ? `  (${a.errors} errors)` : ""}`;
  for (const [name, a] of Object.entries(r.by_type)) lines.push(row(name, a));
  lines.push("by dimension:");
  for (const [name, a] of Object.entries(r.by_dimension)) lines.push(row(name, a));
  if (r.errors.instructions)
    lines.push(
      "",
      `grader errors: ${r.errors.constraints} constraints in ${r.errors.instructions} responses: ids ${r.errors.ids.join(", ")}`,
    );
  return `${lines.join("\n")}\n`;
}
