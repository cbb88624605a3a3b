/**
 * In-process benchmark of the IFEval judge on the 541 GPT-4 responses:
 *
 *   npx tsx scripts/bench-judge.ts [--runs 7] [--data data]
 *
 * Times strict only, loose only, and both (as the CLI runs them, sharing text measurements),
 * reports the median of `--runs` runs and responses per second, after one cold run that includes
 * decoding the bundled Punkt and langdetect data.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  evaluateIfeval,
  evaluateIfevalRecord,
  type IfevalInputRecord,
  type JudgeMode,
} from "../src/judge/index.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "7" }, data: { type: "string" } },
});
const runs = Number(values.runs);
const dataDir = values.data ?? new URL("../data/", import.meta.url).pathname;

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
const records = readJsonl<IfevalInputRecord>(`${dataDir}/ifeval/input_data_gpt4_20231107_145030.jsonl`);
const responses = new Map(
  readJsonl<{ prompt: string; response: string }>(`${dataDir}/ifeval/input_response_data_gpt4_20231107_145030.jsonl`).map((r) => [
    r.prompt,
    r.response,
  ]),
);

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const judgeAll = (modes: JudgeMode[]) => () => {
  for (const record of records) evaluateIfevalRecord(record, responses.get(record.prompt)!, modes);
};

const cold = time(() => evaluateIfeval(records, responses));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const rows: Array<[string, number[]]> = [
  ["strict", []],
  ["loose", []],
  ["strict + loose", []],
];
for (let run = 0; run < runs; run++) {
  rows[0]![1].push(time(judgeAll(["strict"])));
  rows[1]![1].push(time(judgeAll(["loose"])));
  rows[2]![1].push(time(() => evaluateIfeval(records, responses)));
}

const instructions = records.reduce((n, r) => n + r.instruction_id_list.length, 0);
console.log(`IFEval judge benchmark: ${records.length} responses, ${instructions} instructions, Node ${process.versions.node}`);
console.log(`cold first run (strict + loose, includes decoding the bundled data): ${cold.toFixed(0)} ms`);
console.log(`median of ${runs} warm runs:`);
for (const [name, times] of rows) {
  const ms = median(times);
  console.log(
    `  ${name.padEnd(15)} ${ms.toFixed(1).padStart(8)} ms  ${((records.length / ms) * 1000).toFixed(0).padStart(6)} responses/s  (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`,
  );
}
