/**
 * In-process benchmark of the IFEval judge on the 541 GPT-4 responses:
 *
 *   npx tsx scripts/bench-judge.ts [--runs 15] [--data data]
 *       [--reference-ms N | --reference-timing FILE | --reference DIR [--python /usr/bin/python3]]
 *       [--profile]
 *
 * Times strict only, loose only, and both (as the CLI runs them, sharing text measurements),
 * reports the median of `--runs` runs and responses per second, after one cold run that includes
 * decoding the bundled Punkt and langdetect data. The absolute figures are always printed.
 *
 * The goal is a ratio to Google's Python reference measured on the same machine in the same
 * session (the machine is shared and noisy, so an old figure is worth little). Give it as
 * `--reference-ms N`, as a timing file (`--reference-timing FILE`: the line that the reference's
 * `time_reference.py` or our scripts/bench/time-ifeval-reference.py prints, or a bare number of
 * ms), or as the reference's folder (`--reference DIR`: times it right before our runs with
 * scripts/bench/time-ifeval-reference.py and Debian's python3, see that folder's README). The
 * ratio is printed for wall-clock medians and minimums, and, when the reference's CPU time is
 * known, for CPU time (this process's user + system time against Python's process time), which
 * other work on a shared machine distorts least.
 *
 * `--profile` also prints where the time goes, on IFEval and on IFBench's sample: per checker
 * (each judged alone, text measurements not shared) and per text-analysis step over the distinct
 * texts that strict and loose judging look at (responses and their loose variants).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AnalysisCache, judgeOne } from "../src/judge/core/judge.ts";
import {
  detectLanguage,
  evaluateIfeval,
  evaluateIfevalRecord,
  looseVariants,
  splitIntoSentences,
  splitSentences,
  TextAnalysis,
  treebankTokenize,
  validateConstraints,
  type BenchmarkInputRecord,
  type JudgeMode,
} from "../src/judge/index.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "15" },
    data: { type: "string" },
    "reference-ms": { type: "string" },
    "reference-timing": { type: "string" },
    reference: { type: "string" },
    python: { type: "string", default: "/usr/bin/python3" },
    profile: { type: "boolean", default: false },
  },
  // Not strict: `npm run bench` hands the same options to every benchmark it runs.
  strict: false,
}) as { values: { [option: string]: string | undefined } & { profile?: boolean } };
const runs = Number(values.runs);
const dataDir = values.data ?? new URL("../data/", import.meta.url).pathname;
const ifevalInput = join(dataDir, "ifeval/input_data_gpt4_20231107_145030.jsonl");
const ifevalResponses = join(dataDir, "ifeval/input_response_data_gpt4_20231107_145030.jsonl");

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
const readResponses = (path: string) => new Map(readJsonl<{ prompt: string; response: string }>(path).map((r) => [r.prompt, r.response]));
const records = readJsonl<BenchmarkInputRecord>(ifevalInput);
const responses = readResponses(ifevalResponses);

/** The reference's time (median, and minimum when known), from the option given, else null. */
function referenceTiming(): { median: number; min?: number; cpu?: { median: number; min: number }; source: string } | null {
  if (values["reference-ms"]) return { median: Number(values["reference-ms"]), source: "--reference-ms" };
  let text: string;
  let source: string;
  if (values["reference-timing"]) {
    text = readFileSync(values["reference-timing"], "utf8");
    source = values["reference-timing"];
  } else if (values.reference) {
    const dir = values.reference;
    const timer = new URL("bench/time-ifeval-reference.py", import.meta.url).pathname;
    console.log(`timing the reference in ${dir} (${values.python}) ...`);
    text = execFileSync(values.python!, [timer, dir, ifevalInput, ifevalResponses, String(Math.max(5, Math.min(runs, 9)))], {
      encoding: "utf8",
    });
    source = "measured just now";
  } else return null;
  const median = /median ([\d.]+) ms/.exec(text)?.[1] ?? /^\s*([\d.]+)\s*$/.exec(text)?.[1];
  if (!median) throw new Error(`no "median N ms" (or bare number) in the reference timing: ${text.trim()}`);
  const min = /min ([\d.]+)/.exec(text)?.[1];
  const cpu = /cpu median ([\d.]+) ms \(min ([\d.]+)\)/.exec(text);
  return {
    median: Number(median),
    min: min ? Number(min) : undefined,
    cpu: cpu ? { median: Number(cpu[1]), min: Number(cpu[2]) } : undefined,
    source,
  };
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Wall-clock and CPU (user + system, all threads) milliseconds of `fn`. */
function timeWithCpu(fn: () => void): { wall: number; cpu: number } {
  const cpuStart = process.cpuUsage();
  const wall = time(fn);
  const { user, system } = process.cpuUsage(cpuStart);
  return { wall, cpu: (user + system) / 1000 };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const reference = referenceTiming();

const judgeAll = (modes: JudgeMode[]) => () => {
  for (const record of records) evaluateIfevalRecord(record, responses.get(record.prompt)!, modes);
};

const cold = time(() => evaluateIfeval(records, responses));

const rows: Array<[string, number[]]> = [
  ["strict", []],
  ["loose", []],
  ["strict + loose", []],
];
const bothCpu: number[] = [];
for (let run = 0; run < runs; run++) {
  rows[0]![1].push(time(judgeAll(["strict"])));
  rows[1]![1].push(time(judgeAll(["loose"])));
  const both = timeWithCpu(() => evaluateIfeval(records, responses));
  rows[2]![1].push(both.wall);
  bothCpu.push(both.cpu);
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
const both = rows[2]![1];
console.log(`  strict + loose, CPU time: median ${median(bothCpu).toFixed(1)} ms (min ${Math.min(...bothCpu).toFixed(1)})`);
if (reference) {
  const ratio = reference.median / median(both);
  let line = `vs Google's Python reference (${reference.source}), strict + loose, goal 20x:\n  wall-clock medians ${reference.median.toFixed(0)} / ${median(both).toFixed(1)} ms = ${ratio.toFixed(1)}x`;
  if (reference.min !== undefined)
    line += `; minimums ${reference.min.toFixed(0)} / ${Math.min(...both).toFixed(1)} ms = ${(reference.min / Math.min(...both)).toFixed(1)}x`;
  if (reference.cpu) {
    line += `\n  CPU-time medians ${reference.cpu.median.toFixed(0)} / ${median(bothCpu).toFixed(1)} ms = ${(reference.cpu.median / median(bothCpu)).toFixed(1)}x`;
    line += `; minimums ${reference.cpu.min.toFixed(0)} / ${Math.min(...bothCpu).toFixed(1)} ms = ${(reference.cpu.min / Math.min(...bothCpu)).toFixed(1)}x`;
  }
  console.log(line);
} else {
  console.log("no reference timing given (--reference-ms N, --reference-timing FILE or --reference DIR): ratio not computed");
}

if (values.profile) {
  profile("IFEval (GPT-4 responses)", records, responses, false);
  const ifbenchRecords = readJsonl<BenchmarkInputRecord>(join(dataDir, "ifbench/IFBench_test.orig.jsonl"));
  const ifbenchResponses = readResponses(join(dataDir, "ifbench/reference/sample_output.jsonl"));
  profile("IFBench (sample responses)", ifbenchRecords, ifbenchResponses, true);
}

/** Median over `repeats` of the time `fn` takes on every item. */
function timeEach<T>(items: readonly T[], fn: (item: T) => unknown, repeats = 5): number {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) times.push(time(() => items.forEach(fn)));
  return median(times);
}

function profile(name: string, set: readonly BenchmarkInputRecord[], byPrompt: ReadonlyMap<string, string>, stripPrompts: boolean) {
  const lookup = (prompt: string) => byPrompt.get(prompt) ?? (stripPrompts ? byPrompt.get(prompt.trim()) : undefined) ?? "";
  const items = set.flatMap((record) => {
    const response = lookup(record.prompt);
    return validateConstraints(record.instruction_id_list.map((id, i) => ({ id, kwargs: record.kwargs[i] }))).map(
      ({ checker, kwargs }) => ({ checker, kwargs, response }),
    );
  });
  console.log(`\n== profile: ${name}: ${set.length} responses, ${items.length} instructions`);
  console.log(
    `whole run, strict + loose: ${timeEach([0], () => evaluateIfeval(set, byPrompt, { allowMissing: true, stripPrompts })).toFixed(1)} ms`,
  );

  // Per checker, each judged alone (a fresh cache: it pays for every measurement it needs).
  const ids = [...new Set(items.map((item) => item.checker.id))];
  const rowsById = ids.map((id) => {
    const mine = items.filter((item) => item.checker.id === id);
    const strict = timeEach(mine, ({ checker, kwargs, response }) => judgeOne(checker, kwargs, response, "strict"));
    const loose = timeEach(mine, ({ checker, kwargs, response }) => judgeOne(checker, kwargs, response, "loose"));
    return { id, n: mine.length, strict, loose };
  });
  rowsById.sort((a, b) => b.strict + b.loose - (a.strict + a.loose));
  const total = rowsById.reduce((s, r) => s + r.strict + r.loose, 0);
  console.log("by checker, each alone (ms for all its items; share of the sum):");
  console.log("| id | items | strict ms | loose ms | share |\n|---|---:|---:|---:|---:|");
  for (const r of rowsById.filter((r) => r.strict + r.loose >= total * 0.005)) {
    console.log(
      `| ${r.id} | ${r.n} | ${r.strict.toFixed(2)} | ${r.loose.toFixed(2)} | ${(((r.strict + r.loose) / total) * 100).toFixed(1)}% |`,
    );
  }
  console.log(`| (${rowsById.filter((r) => r.strict + r.loose < total * 0.005).length} others, under 0.5% each) | | | | |`);

  // Per text-analysis step, on the distinct texts judging can look at.
  const responsesOnly = [...new Set(set.map((record) => lookup(record.prompt)))];
  const variants = [...new Set(responsesOnly.flatMap((r) => looseVariants(r).map((v) => v.text)))];
  const sentences = variants.flatMap((text) => splitSentences(text));
  const chars = variants.reduce((n, t) => n + t.length, 0);
  console.log(
    `by text-analysis step, over the ${variants.length} distinct response and loose-variant texts (${(chars / 1000).toFixed(0)} k chars; a run computes each only where a checker needs it):`,
  );
  const steps: Array<[string, () => number]> = [
    ["loose variants (8 per response)", () => timeEach(responsesOnly, looseVariants)],
    ["sentence splitting (Punkt)", () => timeEach(variants, splitSentences)],
    ["word tokenization (Treebank, on Punkt sentences)", () => timeEach(sentences, treebankTokenize)],
    ["language detection (langdetect)", () => timeEach(variants, detectLanguage)],
    ["word count (\\w+ runs)", () => timeEach(variants, (t) => new TextAnalysis(t).wordCount)],
    ["case folding (keyword search)", () => timeEach(variants, (t) => new TextAnalysis(t).foldedText)],
    ["IFBench regex sentences", () => timeEach(variants, splitIntoSentences)],
  ];
  console.log("| step | ms | µs per text |\n|---|---:|---:|");
  for (const [step, run] of steps) {
    const ms = run();
    console.log(`| ${step} | ${ms.toFixed(2)} | ${((ms / variants.length) * 1000).toFixed(1)} |`);
  }
  // What the run really computes, with the cache judging shares per response.
  const cacheHits = { texts: 0 };
  for (const record of set) {
    const cache = new AnalysisCache();
    const response = lookup(record.prompt);
    for (const { checker, kwargs } of validateConstraints(record.instruction_id_list.map((id, i) => ({ id, kwargs: record.kwargs[i] })))) {
      judgeOne(checker, kwargs, response, "strict", cache);
      judgeOne(checker, kwargs, response, "loose", cache);
    }
    cacheHits.texts += cache.size;
  }
  console.log(`a strict + loose run analyses ${cacheHits.texts} texts (one analysis per distinct text of a response)`);
}
