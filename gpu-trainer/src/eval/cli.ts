/**
 * `iopo-train eval`: generate answers to a benchmark's prompts and have the judge API score them.
 *
 *   iopo-train eval --model <dir|checkpoint|tiny:name> --benchmark ifeval|ifbench|trace|<dataset>
 *     --judge http://127.0.0.1:8787 [--out <dir>] [--key <k>] [--limit n] [--device auto] ...
 */
import { InputError, choiceOption, numberOption, parseCommandArgs, requireOptions, stringOptions } from "@iopo/common/cli";
import { DEVICES } from "@iopo/graph";
import { ApiError } from "@iopo/common";
import { formatMetrics } from "./benchmark.ts";
import { EVAL_DEFAULTS, evaluate } from "./run.ts";

export const evalUsage = `Usage: iopo-train eval --model <dir|checkpoint|tiny:name> --benchmark <name> --judge <url> [--out <dir>] [options]
  Fetches the benchmark's prompts from the judge's dataset API, generates a response to each, has the
  judge score them and prints the figures; with --out writes report.json, verdicts.jsonl, responses.jsonl.
  <name>: ifeval | ifbench (dataset of that name; strict and loose, prompt- and instruction-level)
          trace (dataset trace-eval; IF-S / IF-M with the API's LLM judge)
          any dataset of instruction records with constraints (IF-S / IF-M = single / multi-constraint
          instructions followed; prompt- and instruction-level, strict and loose)
  --judge <url>          the API (npm start: http://127.0.0.1:8787; or a deployed Worker); IOPO_API_URL
  --key <key>            API key for private datasets (IOPO_API_KEY)
  --dataset <name>       score against this stored prompt set instead of the benchmark's default
  --limit <n>            only the first n prompts
  --device <d>           ${DEVICES.join("|")} (default auto)
  --max-new-tokens <n>   per response (default ${EVAL_DEFAULTS.maxNewTokens})
  --temperature <t>      0 (default): greedy
  --top-p <p>, --seed <n>, --batch-size <n> (default ${EVAL_DEFAULTS.batchSize}), --model-seed <n> (tiny: init)`;

/** `iopo-train eval` (registered in src/cli/main.ts). */
export async function evalCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    stringOptions([
      "model",
      "benchmark",
      "judge",
      "key",
      "out",
      "dataset",
      "limit",
      "device",
      "max-new-tokens",
      "temperature",
      "top-p",
      "seed",
      "batch-size",
      "model-seed",
    ]),
    evalUsage,
  )?.values;
  if (!values) return 0;
  const judge = (values.judge as string | undefined) ?? process.env.IOPO_API_URL;
  requireOptions({ ...values, judge }, ["model", "benchmark", "judge"]);
  const device = choiceOption(values, "device", DEVICES) ?? "auto";
  try {
    const r = await evaluate({
      model: values.model as string,
      benchmark: values.benchmark as string,
      judge: judge!,
      key: (values.key as string | undefined) ?? process.env.IOPO_API_KEY,
      out: values.out as string | undefined,
      dataset: values.dataset as string | undefined,
      limit: numberOption(values, "limit", { int: true, min: 1 }),
      device,
      maxNewTokens: numberOption(values, "max-new-tokens", { int: true, min: 1 }),
      temperature: numberOption(values, "temperature", { min: 0 }),
      topP: numberOption(values, "top-p", { min: 0, max: 1 }),
      seed: numberOption(values, "seed", { int: true, min: 0 }),
      batchSize: numberOption(values, "batch-size", { int: true, min: 1 }),
      modelSeed: numberOption(values, "model-seed", { int: true, min: 0 }),
    });
    process.stdout.write(
      `${r.benchmark} (${r.dataset}), ${r.model} on ${r.device}: ${r.metrics.items} responses, ${r.completionTokens} tokens generated in ${r.seconds.generate.toFixed(1)} s, judged in ${r.seconds.judge.toFixed(1)} s\n` +
        formatMetrics(r.metrics),
    );
    if (values.out) process.stdout.write(`report: ${values.out}/report.json; verdicts: ${values.out}/verdicts.jsonl\n`);
    return 0;
  } catch (e) {
    if (e instanceof ApiError) throw new InputError(e.message);
    throw e;
  }
}
