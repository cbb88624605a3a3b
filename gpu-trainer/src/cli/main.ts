/**
 * `iopo-train`: train (IOPO, IOPO-lite, DPO, SFT), score log-probs, export checkpoints.
 * Log lines and the progress bar go to stderr; a command's result (JSON) goes to stdout.
 * A user error (bad option, missing file, unsupported model, API down, shard hash mismatch) is one
 * line on stderr and exit status 1; bad usage is exit status 2.
 */
import { writeFile, readFile, mkdir, rename } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { createRequire } from "node:module";
import {
  type CommandOptions,
  InputError,
  UsageError,
  choiceOption,
  parseCommandArgs,
  requireOptions,
  stringOptions,
} from "@iopo/common/cli";
import { parse as parseYaml } from "yaml";
import { EngineUnavailable, DEVICES, DEVICE_INFO, TRAINING_DEVICES } from "@iopo/graph";
import { DataError } from "../data/samples.ts";
import { UnsupportedModelError } from "../model/config.ts";
import { SafetensorsError } from "../model/safetensors.ts";
import { TokenizerError } from "../tokenizer/index.ts";
import { CheckpointError } from "../train/checkpoint.ts";
import { CARDS, type MemoryEstimate, estimateMemory } from "../train/estimate.ts";
import { exportCheckpoint } from "../train/export.ts";
import { computeLogprobs } from "../train/logprobs.ts";
import { METHODS } from "../train/losses.ts";
import {
  CONFIG_KEYS,
  ConfigError,
  DEFAULTS,
  type OptionName,
  TRAIN_OPTIONS,
  flagOf,
  specOf,
  optionOfFlag,
  optionsUsage,
  parseArgsOptions,
  resolveOptions,
} from "../train/options.ts";
import { type TrainOptions, TrainingError, train } from "../train/train.ts";
import { evalCommand, evalUsage } from "../eval/cli.ts";
import { generateCommand, generateUsage } from "../generate/cli.ts";
import { doctorCommand, doctorUsage } from "./doctor.ts";

const USER_ERRORS = [
  ConfigError,
  DataError,
  UnsupportedModelError,
  SafetensorsError,
  TokenizerError,
  CheckpointError,
  EngineUnavailable,
  TrainingError,
  InputError,
];

export const TRAIN_USAGE = `Usage: iopo-train train --model <dir|tiny:name> --data <src> --method ${METHODS.join("|")} --out <dir> [options]

  --config <file>           YAML or JSON with the same keys as these options (options here win)
${optionsUsage()}`;

const LOGPROBS_USAGE = `Usage: iopo-train logprobs --model <dir|tiny:name> --data <src> --out <file.jsonl> [options]
  Per record: summed response log-probs and scored token counts (IOPO: y1|x1, y2|x1, y1|x2, y2|x2;
  DPO: chosen, rejected; SFT: response).
  --checkpoint <dir>     score a trained checkpoint's policy (its base model unless --model is given)
  --format iopo|dpo|sft  the shard format to read from the API (default iopo)
  --max-length <n>       ${DEFAULTS.maxLength}      --batch-size <n>  8      --device <d>  auto
  --seed <n>             tiny-model init       --api-key <key>       --cache-dir <dir>
`;

const EXPORT_USAGE = `Usage: iopo-train export --checkpoint <dir> --out <dir> [--merge-lora] [--onnx [--onnx-external-data]] [--model <dir|tiny:name>]
  Writes a Hugging Face folder (config.json, model.safetensors, tokenizer files; a LoRA run as a PEFT
  adapter beside its base, or merged with --merge-lora) and with --onnx an inference graph model.onnx
  (int32 input_ids, attention_mask, position_ids [batch, sequence] -> float32 logits). Its weights go to
  model.onnx.data (ONNX external data) past protobuf's 2 GiB, or always with --onnx-external-data.
`;

const ESTIMATE_USAGE = `Usage: iopo-train estimate --model <dir|tiny:name> --method ${METHODS.join("|")} [train options]
                         [--card ${Object.keys(CARDS).join("|")}] [--card-gb <n>] [--json <file>]
  Device memory of one training step by part (frozen weights, trainable, gradients, moments, peak
  activations, logits chunk), from the model folder's config.json alone (no weights are read), for
  the train command's own options: those that change memory are --lora-rank/--lora-targets or
  --full, --ref, --batch-size, --grad-accum, --max-length, --precision, --recompute (the others are
  accepted). With a card, whether it fits. --json writes {parts: {...bytes}, totalBytes}; the same
  object (and the card's bytes and fit) is printed to stdout, a table to stderr.
`;

const USAGE = `Usage: iopo-train <command> [options]

Commands:
  train      optimize a causal LM with IOPO, IOPO-lite, DPO or SFT
  logprobs   per-record summed log-probs and token counts
  export     a checkpoint as a Hugging Face folder (and an ONNX inference graph)
  estimate   the device memory a training run needs, from config.json alone
  generate   answer a file of prompts (KV-cache decoding, greedy or sampled)
  eval       answer a benchmark's prompts and have the judge API score them
  doctor     one line: is this box ready to train on its GPU (adapter, driver libraries, engines)

Devices (--device; train and logprobs: all but ${DEVICES.filter((d) => !DEVICE_INFO[d].trains).join(", ")}):
${DEVICES.map((d) => `  ${d.padEnd(13)}${DEVICE_INFO[d].runs}`).join("\n")}

Run \`iopo-train <command> --help\` for a command's options; \`iopo-train --version\` prints the version.
`;

const PACKAGE_VERSION: string = createRequire(import.meta.url)("../../package.json").version;

const REQUIRED = (Object.keys(TRAIN_OPTIONS) as OptionName[]).filter((k) => specOf(k).required).map(flagOf);

function toNumber(key: string, v: unknown, where: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(`${where}${key} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Read a YAML or JSON config file into option values (kebab-case or snake_case keys). */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `cannot read config ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  let v: unknown;
  try {
    v = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"} (${(e as Error).message.split("\n")[0]})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new ConfigError(`${path}: expected a mapping of option names to values`);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const name = optionOfFlag(k);
    if (!name || !CONFIG_KEYS.includes(flagOf(name)))
      throw new ConfigError(`${path}: unknown key "${k}" (keys are the train options: ${CONFIG_KEYS.join(", ")})`);
    out[flagOf(name)] = val;
  }
  return out;
}

/** Option values (config file, then command line), typed by the options table -> TrainOptions. */
function toTrainOptions(values: Record<string, unknown>, where: (key: string) => string): TrainOptions {
  const o: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(values)) {
    const name = optionOfFlag(key);
    if (v === undefined || !name || specOf(name).cliOnly) continue;
    const type = specOf(name).type;
    if (type === "number" || type === "integer") o[name] = toNumber(key, v, where(key));
    else if (type === "boolean") {
      if (typeof v !== "boolean") throw new ConfigError(`${where(key)}${key} must be true or false`);
      o[name] = v;
    } else if (type === "list") o[name] = Array.isArray(v) ? v.map(String) : String(v);
    else o[name] = typeof v === "string" ? v : String(v);
  }
  return o as unknown as TrainOptions;
}

/** The train options of a command line (and its --config file), and the command's other values. */
async function trainOptionsOf(
  argv: string[],
  extra: CommandOptions,
  usage: string,
): Promise<{ opts: TrainOptions; merged: Record<string, unknown>; values: Record<string, unknown> } | undefined> {
  // the options table's flags are known at run time only: their values are typed as any option's
  const options: CommandOptions = { config: { type: "string" }, ...parseArgsOptions(), ...extra };
  const values = parseCommandArgs(argv, options, usage)?.values;
  if (!values) return undefined;
  const fromFile = values.config ? await readConfigFile(resolve(String(values.config))) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [k, v] of Object.entries(values)) if (v !== undefined && !(k in extra)) merged[k] = v;
  const opts = toTrainOptions(merged, (k) => (k in values && values[k] !== undefined ? "--" : `${values.config}: `));
  return { opts, merged, values };
}

async function runTrain(argv: string[]): Promise<number> {
  // --resume takes an optional value (--resume or --resume=<checkpoint>): a bare one arrives as ""
  argv = argv.map((a) => (a === "--resume" ? "--resume=" : a));
  const parsed = await trainOptionsOf(argv, {}, TRAIN_USAGE);
  if (!parsed) return 0;
  const { opts, merged, values } = parsed;
  requireOptions(merged, REQUIRED);
  const progress = choiceOption(values, "progress", TRAIN_OPTIONS.progress.choices);
  const resume = values.resume === "" ? true : (values.resume as string | undefined);
  const result = await train({ ...opts, resume, progress: progress ?? "auto" });
  process.stdout.write(JSON.stringify(result.summary) + "\n");
  return 0;
}

async function runEstimate(argv: string[]): Promise<number> {
  const extra: CommandOptions = { json: { type: "string" }, card: { type: "string" }, "card-gb": { type: "string" } };
  const parsed = await trainOptionsOf(argv, extra, ESTIMATE_USAGE);
  if (!parsed) return 0;
  const { opts, merged, values } = parsed;
  requireOptions(merged, ["model", "method"]);
  const card = choiceOption(values, "card", Object.keys(CARDS));
  const cardGb = values["card-gb"] !== undefined ? toNumber("card-gb", values["card-gb"], "--") : undefined;
  if (card && cardGb !== undefined) throw new UsageError("--card and --card-gb exclude each other");
  // validated and defaulted as training would; `out` is a run's folder, unused here
  const { model: _model, data: _data, resume: _resume, progress: _progress, ...rest } = opts;
  const run = resolveOptions({ ...rest, out: rest.out ?? "." });
  const config = await modelConfig(String(opts.model));
  const est: MemoryEstimate & { cardBytes?: number; fits?: boolean } = estimateMemory(config, run);
  const cardBytes = card ? CARDS[card] * 2 ** 20 : cardGb !== undefined ? cardGb * 2 ** 30 : undefined;
  if (cardBytes !== undefined) Object.assign(est, { cardBytes, fits: est.totalBytes <= cardBytes });
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2).padStart(8)} GiB`;
  const lines = Object.entries(est.parts).map(([k, b]) => `  ${k.padEnd(14)}${gib(b)}`);
  lines.push(`  ${"total".padEnd(14)}${gib(est.totalBytes)}`);
  if (cardBytes !== undefined)
    lines.push(`  ${(card ?? `${cardGb} GiB`).padEnd(14)}${gib(cardBytes)}: ${est.fits ? "fits" : "does not fit"}`);
  process.stderr.write(`${lines.join("\n")}\n`);
  if (values.json) await writeFile(resolve(String(values.json)), `${JSON.stringify({ parts: est.parts, totalBytes: est.totalBytes })}\n`);
  process.stdout.write(`${JSON.stringify(est)}\n`);
  return 0;
}

/** A model's config: a folder's config.json (nothing else is read) or a built-in tiny model's. */
async function modelConfig(spec: string) {
  const { readConfig } = await import("../model/weights.ts");
  if (!spec.startsWith("tiny:")) return readConfig(resolve(spec));
  const { tinyConfig, tinyTokenizer } = await import("../model/index.ts");
  return tinyConfig(spec.slice(5), tinyTokenizer().vocabSize);
}

async function runLogprobs(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    stringOptions(["model", "data", "out", "checkpoint", "format", "max-length", "batch-size", "device", "seed", "api-key", "cache-dir"]),
    LOGPROBS_USAGE,
  )?.values;
  if (!values) return 0;
  requireOptions({ ...values, model: values.model ?? values.checkpoint }, ["model", "data", "out"]);
  const format = choiceOption(values, "format", ["iopo", "dpo", "sft"] as const);
  const device = choiceOption(values, "device", TRAINING_DEVICES);
  let model: string | undefined = values.model as string | undefined;
  let seed = values.seed !== undefined ? toNumber("seed", values.seed, "--") : undefined;
  if (model === undefined) {
    const { readTrainerState } = await import("../train/checkpoint.ts");
    const state = await readTrainerState(String(values.checkpoint));
    model = state.model.source;
    seed ??= Number(state.options.seed ?? 0);
  }
  const records = await computeLogprobs({
    model,
    data: String(values.data),
    checkpoint: values.checkpoint as string | undefined,
    format,
    maxLength: values["max-length"] !== undefined ? toNumber("max-length", values["max-length"], "--") : undefined,
    batchSize: values["batch-size"] !== undefined ? toNumber("batch-size", values["batch-size"], "--") : undefined,
    device,
    seed,
    apiKey: values["api-key"] as string | undefined,
    cacheDir: values["cache-dir"] as string | undefined,
  });
  const out = resolve(String(values.out));
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  await writeFile(tmp, records.map((r) => JSON.stringify(r) + "\n").join(""));
  await rename(tmp, out);
  process.stdout.write(JSON.stringify({ out, records: records.length }) + "\n");
  return 0;
}

async function runExport(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      checkpoint: { type: "string" },
      out: { type: "string" },
      model: { type: "string" },
      "merge-lora": { type: "boolean" },
      onnx: { type: "boolean" },
      "onnx-external-data": { type: "boolean" },
    },
    EXPORT_USAGE,
  )?.values;
  if (!values) return 0;
  requireOptions(values, ["checkpoint", "out"]);
  const r = await exportCheckpoint({
    checkpoint: resolve(String(values.checkpoint)),
    out: resolve(String(values.out)),
    mergeLora: values["merge-lora"] === true,
    onnx: values.onnx === true,
    onnxExternalData: values["onnx-external-data"] === true,
    model: values.model as string | undefined,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(JSON.stringify(r) + "\n");
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  train: runTrain,
  logprobs: runLogprobs,
  export: runExport,
  estimate: runEstimate,
  generate: generateCommand,
  eval: evalCommand,
  doctor: doctorCommand,
};
const USAGES: Record<string, string> = {
  train: TRAIN_USAGE,
  logprobs: LOGPROBS_USAGE,
  export: EXPORT_USAGE,
  estimate: ESTIMATE_USAGE,
  generate: `${generateUsage}\n`,
  eval: `${evalUsage}\n`,
  doctor: `${doctorUsage}\n`,
};

/** Runs `iopo-train <command> ...`; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === "--version") {
    process.stdout.write(`iopo-train ${PACKAGE_VERSION} (Node ${process.version})\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`iopo-train: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`iopo-train ${command}: ${e.message}\n\n${USAGES[command]}`);
      return 2;
    }
    if (USER_ERRORS.some((k) => e instanceof k)) {
      process.stderr.write(`iopo-train ${command}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
