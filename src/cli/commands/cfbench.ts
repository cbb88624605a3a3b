/**
 * `iopo cfbench`: CFBench scores (CSR, ISR, PSR for easy, hard and full).
 *
 *   iopo cfbench --api <url> [--key <k>] --data cfbench_data.json --responses answers.jsonl [--json OUT]
 *   iopo cfbench --api <url> [--key <k>] --responses model_infer.json [--json OUT]
 *   iopo cfbench --replay model_eval.json --json OUT          (no model calls)
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  CFBENCH_PRIORITIES,
  CFBENCH_SPLITS,
  aggregate,
  scoreRecorded,
  type CfbenchMetric,
  type CfbenchScores,
} from "../../benchmarks/cfbench/score.ts";
import { ApiClient, LIMITS, ndjsonLines } from "@iopo/common";
import { apiConnection } from "../api-connection.ts";
import { InputError, parseCommandArgs, UsageError } from "@iopo/common/cli";
import { batchError } from "../errors.ts";

export const cfbenchUsage = `Usage: iopo cfbench (--replay <eval.json> | --api <url> --responses <file> [--data <cfbench_data.json>]) [--json <out.json>]
  Scores CFBench as its reference evaluation does: per item CSR (rounded to 2 places), ISR and PSR
  (primary 主需 / secondary 次需 criteria, with the reference's fallbacks for unparseable judge
  answers), and their means for easy, hard and full. CFBench is not shipped: point at your copy.
  --replay <file>     re-score the reference's judge output (output/judge/*_eval.json: items with
                      idx, split, criteria, judge_response) without any model call
  --responses <file>  responses to judge with the API's LLM judge: the reference's *_infer.json
                      (items with prompt, gold, split, criteria, response), or {idx, response}
                      items (JSON array or JSONL) joined by idx with --data
  --data <file>       the published cfbench_data.json (a JSON array of items)
  --json <file>       write {scores: {easy, hard, full}, items: [{idx, split, CSR, ISR, PSR,
                      judge_parsing, judge_score, judge_response}]} (live: also judge, usage)
  --cache use|bypass  bypass: ask the judge again instead of using cached judgements
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

type Json = Record<string, unknown>;

/** A JSON array file, or JSONL. */
function readItems(file: string): Json[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let items: unknown[];
  if (text.trimStart().startsWith("[")) {
    try {
      items = JSON.parse(text) as unknown[];
    } catch (error) {
      throw new InputError(`${file}: not valid JSON: ${(error as Error).message}`);
    }
  } else {
    items = ndjsonLines(text).map((entry) => {
      if ("error" in entry) throw new InputError(`${file}:${entry.line}: ${entry.error}`);
      return entry.value;
    });
  }
  items.forEach((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw new InputError(`${file}: item ${i}: expected an object`);
  });
  return items as Json[];
}

function checkCriteria(file: string, i: number, item: Json): void {
  const criteria = item.criteria;
  if (!Array.isArray(criteria) || criteria.length === 0)
    throw new InputError(`${file}: item ${i} (idx ${String(item.idx)}): criteria: expected a non-empty list`);
  criteria.forEach((c, j) => {
    if (!Array.isArray(c) || typeof c[0] !== "string" || !(CFBENCH_PRIORITIES as readonly unknown[]).includes(c[1])) {
      throw new InputError(`${file}: item ${i} (idx ${String(item.idx)}): criteria.${j}: expected [text, 主需|次需, type, dimension]`);
    }
  });
  if (!(CFBENCH_SPLITS as readonly unknown[]).includes(item.split))
    throw new InputError(`${file}: item ${i} (idx ${String(item.idx)}): split: expected easy or hard`);
}

/** One item's verdict, the same fields live (the API's) and replayed. */
export interface CfbenchItemScore extends CfbenchMetric {
  idx: unknown;
  split: string;
  judge_parsing: string;
  judge_score: string[];
  judge_response: unknown;
}

/** Re-scores a reference judge file; `recorded` counts items whose stored judge_metric differs. */
export function replayFile(file: string): { scores: CfbenchScores; items: CfbenchItemScore[]; differs_from_recorded: unknown[] } {
  const items = readItems(file);
  const scored: CfbenchItemScore[] = [];
  const differs: unknown[] = [];
  items.forEach((item, i) => {
    checkCriteria(file, i, item);
    const { parsed, metric } = scoreRecorded(item as never);
    scored.push({
      idx: item.idx,
      split: item.split as string,
      ...metric,
      judge_parsing: parsed.parsing,
      judge_score: parsed.scores,
      judge_response: item.judge_response,
    });
    const recorded = item.judge_metric as Partial<CfbenchMetric> | undefined;
    if (recorded && (recorded.CSR !== metric.CSR || recorded.ISR !== metric.ISR || recorded.PSR !== metric.PSR)) differs.push(item.idx);
  });
  return { scores: aggregate(scored.map((s) => ({ split: s.split, metric: s }))), items: scored, differs_from_recorded: differs };
}

export function formatScores(title: string, scores: CfbenchScores): string {
  const cell = (v: number | null) => (v === null ? "-" : v.toFixed(2)).padStart(6);
  const lines = [title, `${"".padEnd(6)}${"CSR".padStart(6)}${"ISR".padStart(6)}${"PSR".padStart(6)}  items`];
  for (const split of ["easy", "hard", "full"] as const) {
    const s = scores[split];
    lines.push(`${split.padEnd(6)}${cell(s.CSR)}${cell(s.ISR)}${cell(s.PSR)}  ${s.items}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Items to judge: infer-style items as they are, or {idx, response} joined with the data by idx. */
function submissions(responsesFile: string, dataFile: string | undefined): Json[] {
  const responses = readItems(responsesFile);
  if (!dataFile) {
    responses.forEach((item, i) => {
      checkCriteria(responsesFile, i, item);
      if (typeof item.response !== "string")
        throw new InputError(`${responsesFile}: item ${i}: response: expected a string (or give --data)`);
    });
    return responses;
  }
  const data = readItems(dataFile);
  const byIdx = new Map<string, Json>();
  data.forEach((item, i) => {
    checkCriteria(dataFile, i, item);
    byIdx.set(String(item.idx), item);
  });
  return responses.map((r, i) => {
    const item = byIdx.get(String(r.idx));
    if (!item) throw new InputError(`${responsesFile}: item ${i}: idx ${String(r.idx)} is not in ${dataFile}`);
    if (typeof r.response !== "string") throw new InputError(`${responsesFile}: item ${i}: response: expected a string`);
    return { idx: item.idx, prompt: item.prompt, gold: item.gold ?? "", split: item.split, criteria: item.criteria, response: r.response };
  });
}

export async function runCfbench(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      replay: { type: "string" },
      responses: { type: "string" },
      data: { type: "string" },
      json: { type: "string" },
      cache: { type: "string" },
    },
    cfbenchUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.replay) {
    if (values.responses || values.data) throw new UsageError("--replay takes no --responses or --data", cfbenchUsage);
    const result = replayFile(values.replay);
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ scores: result.scores, items: result.items }, null, 2)}\n`);
    process.stdout.write(formatScores(`CFBench replay of ${values.replay}: ${result.items.length} items`, result.scores));
    if (result.differs_from_recorded.length) {
      process.stderr.write(
        `${result.differs_from_recorded.length} item(s) score differently from their recorded judge_metric: idx ${result.differs_from_recorded.slice(0, 20).join(", ")}\n`,
      );
    }
    return 0;
  }
  const { base, key } = apiConnection(values);
  const problems: string[] = [];
  if (!base) problems.push("--api is required (or --replay)");
  if (!values.responses) problems.push("--responses is required (or --replay)");
  if (values.cache !== undefined && values.cache !== "use" && values.cache !== "bypass") problems.push("--cache must be use or bypass");
  if (problems.length) throw new UsageError(problems.join("; "), cfbenchUsage);
  const items = submissions(values.responses!, values.data);
  const path = `/v1/benchmarks/cfbench/score${values.cache ? `?cache=${values.cache}` : ""}`;
  const api = new ApiClient(base, { key });
  const verdicts: (CfbenchItemScore & Json)[] = [];
  let judge: unknown;
  const usage = { calls: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cache_hits: 0 };
  for (let i = 0; i < items.length; i += LIMITS.cfbenchItems) {
    const chunk = items.slice(i, i + LIMITS.cfbenchItems);
    let answer: { report: Json; verdicts: (CfbenchItemScore & Json)[] };
    try {
      answer = await api.postNdjson(path, chunk);
    } catch (error) {
      throw batchError(error);
    }
    verdicts.push(...answer.verdicts);
    judge = answer.report.judge;
    for (const [k, v] of Object.entries(answer.report.usage as Record<string, number>)) if (k in usage) usage[k as keyof typeof usage] += v;
    process.stderr.write(`  ${Math.min(i + LIMITS.cfbenchItems, items.length)}/${items.length} items judged\n`);
  }
  const scores = aggregate(verdicts.map((v) => ({ split: v.split, metric: v })));
  const errors = verdicts.filter((v) => v.judge_error).length;
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ scores, judge, usage, items: verdicts }, null, 2)}\n`);
  process.stdout.write(formatScores(`CFBench: ${verdicts.length} items`, scores));
  process.stdout.write(
    `tokens: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion in ${usage.calls} calls, ${usage.cache_hits} cache hits\n`,
  );
  if (errors) process.stderr.write(`${errors} item(s) could not be judged (the judge was unreachable); they score 0 as in the reference\n`);
  return 0;
}
