/**
 * The training options, each stated once (as TRL's DPOConfig does): name, type, default, bounds,
 * help, and whether a resumed run must match it. The CLI flags, the usage text, config-file
 * validation, `resolveOptions` and the resume check are all read from TRAIN_OPTIONS, and so are
 * the option types.
 */
import { resolve } from "node:path";
import { LINEAR_MODULES, type LinearModule, type LoraConfig } from "../model/decoder.ts";
import { TINY_MODELS } from "../model/index.ts";
import { TRAINING_DEVICES } from "@iopo/graph";
import { METHODS, type Method } from "./losses.ts";

/** A mistake in the options or their files (the CLI prints it as one line). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface OptionSpec {
  /** `list`: a comma list on the command line, a list in a config file. */
  type: "string" | "number" | "integer" | "boolean" | "list";
  choices?: readonly string[];
  default?: number | string;
  /** The default for `--method sft`, where it differs (SFT steps on one response, not a margin). */
  sftDefault?: number;
  min?: number;
  max?: number;
  /** An exclusive upper bound. */
  below?: number;
  required?: true;
  /** A resumed run must use the value the checkpoint was trained with. */
  mustMatch?: true;
  /** Given on the command line only: a config file describes a run, not how this process shows or continues it. */
  cliOnly?: true;
  /** The value's placeholder in the usage text. */
  arg?: string;
  help: string;
}

/** The options in usage order; keys are camelCase, flags and config keys kebab-case (snake_case too in a file). */
export const TRAIN_OPTIONS = {
  model: {
    type: "string",
    required: true,
    arg: "<dir|tiny:name>",
    help: `a Hugging Face folder (config.json, *.safetensors, tokenizer.json) or a built-in tiny model: ${Object.keys(TINY_MODELS)
      .map((k) => `tiny:${k}`)
      .join(", ")}`,
  },
  data: {
    type: "string",
    required: true,
    arg: "<src>",
    help: "api://host[:port]/datasets/<name>[@version] (apis:// for https), or a JSONL file of {x1,y1,x2,y2}, {conversations,chosen,rejected}, {prompt,chosen,rejected} or {prompt,response} lines",
  },
  method: { type: "string", choices: METHODS, required: true, mustMatch: true, help: "the objective" },
  out: { type: "string", required: true, arg: "<dir>", help: "checkpoints, metrics.jsonl, plot.svg, summary.json" },
  beta: { type: "number", default: 0.1, min: 0, mustMatch: true, arg: "<b>", help: "the preference losses' temperature" },
  labelSmoothing: {
    type: "number",
    default: 0,
    min: 0,
    below: 0.5,
    mustMatch: true,
    arg: "<eps>",
    help: "conservative DPO/IOPO: the chance a preference label is flipped",
  },
  prefFtx: { type: "number", default: 0, min: 0, mustMatch: true, arg: "<w>", help: "weight of an SFT term on the chosen responses" },
  lr: { type: "number", default: 5e-6, sftDefault: 1e-4, min: 0, mustMatch: true, arg: "<lr>", help: "peak learning rate" },
  epochs: { type: "number", default: 3, min: 0, arg: "<n>", help: "passes over the training split" },
  maxSteps: { type: "integer", min: 1, arg: "<n>", help: "stop after this many optimizer steps (overrides epochs)" },
  batchSize: {
    type: "integer",
    default: 1,
    min: 1,
    mustMatch: true,
    arg: "<n>",
    help: "examples per micro-batch (IOPO: 4 sequences each)",
  },
  gradAccum: { type: "integer", default: 8, min: 1, mustMatch: true, arg: "<n>", help: "micro-batches per optimizer step" },
  maxLength: {
    type: "integer",
    default: 1024,
    min: 2,
    mustMatch: true,
    arg: "<n>",
    help: "tokens per sequence; one budget per quadruple, the beginning kept",
  },
  warmupRatio: {
    type: "number",
    default: 0.1,
    min: 0,
    max: 1,
    mustMatch: true,
    arg: "<r>",
    help: "share of the steps spent warming the learning rate up",
  },
  scheduler: {
    type: "string",
    choices: ["cosine", "linear", "constant"],
    default: "cosine",
    mustMatch: true,
    help: "learning-rate decay after warmup",
  },
  weightDecay: { type: "number", default: 0, min: 0, mustMatch: true, arg: "<wd>", help: "AdamW's decoupled weight decay" },
  clip: { type: "number", default: 1, min: 0, mustMatch: true, arg: "<norm>", help: "max global gradient norm (0 disables)" },
  loraRank: { type: "integer", default: 8, min: 1, arg: "<r>", help: "LoRA rank" },
  loraAlpha: { type: "number", default: 16, min: 0, arg: "<a>", help: "LoRA alpha (the update is scaled by alpha/rank)" },
  loraTargets: { type: "list", arg: "<list>", help: `all-linear, or a comma list of ${LINEAR_MODULES.join(",")}` },
  full: { type: "boolean", help: "full fine-tuning instead of LoRA" },
  ref: {
    type: "string",
    choices: ["cache", "on-the-fly"],
    default: "cache",
    mustMatch: true,
    help: "reference log-probs computed once and cached, or every step",
  },
  precision: {
    type: "string",
    choices: ["fp32", "fp16"],
    default: "fp32",
    help: "the decoder's compute dtype; fp16 keeps fp32 master weights, moments and softmax statistics, scales the loss dynamically and needs --grad-accum 1",
  },
  recompute: {
    type: "boolean",
    help: "recompute each layer's activations in the backward pass (less memory, one more forward of compute)",
  },
  device: {
    type: "string",
    choices: TRAINING_DEVICES,
    default: "auto",
    help: "auto picks a GPU adapter, else onnxruntime-node, else wasm",
  },
  seed: {
    type: "integer",
    default: 0,
    min: 0,
    mustMatch: true,
    arg: "<n>",
    help: "data order, validation split, LoRA and tiny-model init",
  },
  saveEvery: { type: "integer", default: 0, min: 0, arg: "<n>", help: "checkpoint every n steps (always at the end)" },
  evalEvery: { type: "integer", default: 0, min: 0, arg: "<n>", help: "evaluate on the validation split every n steps (and at the end)" },
  valSize: { type: "integer", default: 0, min: 0, mustMatch: true, arg: "<n>", help: "records held out for validation" },
  resume: {
    type: "string",
    cliOnly: true,
    arg: "[=<checkpoint>]",
    help: "continue from the latest checkpoint in --out (or the one given)",
  },
  apiKey: { type: "string", arg: "<key>", help: "for private datasets (or IOPO_API_KEY)" },
  cacheDir: { type: "string", arg: "<dir>", help: "shards and reference log-probs (default IOPO_CACHE_DIR or ~/.cache/iopo)" },
  progress: { type: "string", choices: ["bar", "lines", "none"], cliOnly: true, help: "default: bar on a terminal, lines otherwise" },
} as const satisfies Record<string, OptionSpec>;

type Table = typeof TRAIN_OPTIONS;
export type OptionName = keyof Table;

type ValueOf<S> = S extends { choices: readonly (infer C)[] }
  ? C
  : S extends { type: "number" | "integer" }
    ? number
    : S extends { type: "boolean" }
      ? boolean
      : S extends { type: "list" }
        ? string | string[]
        : string;

/** The table's options as values: the required ones required, the rest optional. */
export type OptionValues = { [K in OptionName as Table[K] extends { required: true } ? K : never]: ValueOf<Table[K]> } & {
  [K in OptionName as Table[K] extends { required: true } ? never : K]?: ValueOf<Table[K]>;
};

type Defaulted = { [K in OptionName]: Table[K] extends { default: unknown } ? K : never }[OptionName];
type MustMatch = { [K in OptionName]: Table[K] extends { mustMatch: true } ? K : never }[OptionName];

/** Options after `resolveOptions`: every default filled in, LoRA gathered (null: full fine-tuning). Checkpoints store them. */
export type ResolvedOptions = { [K in Exclude<Defaulted, "loraRank" | "loraAlpha">]: ValueOf<Table[K]> } & {
  method: Method;
  out: string;
  maxSteps?: number;
  lora: LoraConfig | null;
  recompute: boolean;
};

const entries = Object.entries(TRAIN_OPTIONS) as [OptionName, OptionSpec][];

/** Defaults: the IOPO paper's released configuration where it has one; SFT's own learning rate. */
export const DEFAULTS = {
  ...(Object.fromEntries(entries.filter(([, s]) => s.default !== undefined).map(([k, s]) => [k, s.default])) as {
    [K in Defaulted]: ValueOf<Table[K]>;
  }),
  sftLr: TRAIN_OPTIONS.lr.sftDefault,
};

/** The options a resumed run must share with the run that wrote the checkpoint (and its LoRA). */
export const MUST_MATCH = entries.filter(([, s]) => s.mustMatch).map(([k]) => k) as MustMatch[];

/** An option's row, typed as any row (for code that reads the table by name at run time). */
export const specOf = (name: OptionName): OptionSpec => TRAIN_OPTIONS[name];

/** `labelSmoothing` -> `label-smoothing`. */
export const flagOf = (name: OptionName): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const BY_FLAG = new Map(entries.map(([k]) => [flagOf(k), k]));

/** The option a flag or config key names (`label-smoothing`, `label_smoothing`), if any. */
export const optionOfFlag = (flag: string): OptionName | undefined => BY_FLAG.get(flag.replace(/_/g, "-"));

/** The option keys a config file may set. */
export const CONFIG_KEYS = entries.filter(([, s]) => !s.cliOnly).map(([k]) => flagOf(k));

/** node:util parseArgs options for `iopo-train train` (`--resume` arrives as `--resume=`, see the CLI). */
export function parseArgsOptions(): Record<string, { type: "string" | "boolean" }> {
  return Object.fromEntries(
    entries.map(([k, s]) => [flagOf(k), { type: s.type === "boolean" ? ("boolean" as const) : ("string" as const) }]),
  );
}

const shown = (v: number | string) => (typeof v === "number" && v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));
const describeDefault = (s: OptionSpec) =>
  s.default === undefined ? "" : `(default ${shown(s.default)}${s.sftDefault !== undefined ? `; sft: ${shown(s.sftDefault)}` : ""})`;

const HELP_COLUMN = 28;
const WIDTH = 100;

/** Words in lines that fit between the help column and WIDTH. */
function wrap(words: string[]): string[] {
  const lines = [""];
  for (const word of words) {
    const last = lines[lines.length - 1];
    if (last && HELP_COLUMN + last.length + 1 + word.length > WIDTH) lines.push(word);
    else lines[lines.length - 1] = last ? `${last} ${word}` : word;
  }
  return lines;
}

/** The options part of `iopo-train train --help`. */
export function optionsUsage(): string {
  const lines: string[] = [];
  for (const [k, s] of entries) {
    const value = s.type === "boolean" ? "" : s.arg?.startsWith("[") ? s.arg : ` ${s.choices ? s.choices.join("|") : (s.arg ?? "<v>")}`;
    const head = `  --${flagOf(k)}${value}`;
    const help = wrap([...s.help.split(" "), describeDefault(s)].filter(Boolean)); // "(default x)" kept on one line
    if (head.length >= HELP_COLUMN - 1) lines.push(head);
    else lines.push(`${head.padEnd(HELP_COLUMN)}${help.shift()}`);
    lines.push(...help.map((l) => `${" ".repeat(HELP_COLUMN)}${l}`));
  }
  return `${lines.join("\n")}\n`;
}

/** Why `v` is not a valid value of a number option (the message names the flag), or undefined. */
function numberProblem(name: OptionName, s: OptionSpec, v: unknown): string | undefined {
  const min = s.min ?? -Infinity;
  const ok = typeof v === "number" && (s.type === "integer" ? Number.isInteger(v) : Number.isFinite(v)) && v >= min;
  if (!ok) return `--${flagOf(name)} must be ${s.type === "integer" ? "an integer" : "a number"} >= ${min}, got ${JSON.stringify(v)}`;
  if ((s.max !== undefined && v > s.max) || (s.below !== undefined && v >= s.below))
    return `--${flagOf(name)} must be in [${min}, ${s.max ?? s.below}${s.max !== undefined ? "]" : ")"}, got ${JSON.stringify(v)}`;
  return undefined;
}

export function parseLoraTargets(v: string | readonly string[] | undefined): LinearModule[] {
  if (v === undefined || v === "all-linear" || v === "all") return [...LINEAR_MODULES];
  const list = (typeof v === "string" ? v.split(",") : v).map((s) => s.trim()).filter(Boolean);
  for (const t of list)
    if (!(LINEAR_MODULES as readonly string[]).includes(t))
      throw new ConfigError(`unknown LoRA target "${t}" (choose from ${LINEAR_MODULES.join(", ")} or all-linear)`);
  if (!list.length) throw new ConfigError("--lora-targets is empty");
  return list as LinearModule[];
}

/** Validate options against the table and fill in defaults; every problem is a ConfigError naming the option. */
export function resolveOptions(o: Omit<OptionValues, "model" | "data" | "resume" | "progress">): ResolvedOptions {
  const r: Record<string, unknown> = {};
  for (const [k, s] of entries) {
    if (s.cliOnly) continue; // the CLI checks these itself
    if (k === "out" && !o.out) throw new ConfigError("--out is required");
    const given = (o as Record<string, unknown>)[k];
    const v = given ?? (o.method === "sft" && s.sftDefault !== undefined ? s.sftDefault : s.default);
    if (v === undefined) continue;
    if (s.choices && !s.choices.includes(v as string))
      throw new ConfigError(`--${flagOf(k)} must be ${s.choices.join("|")}, got ${JSON.stringify(v)}`);
    const problem = s.type === "number" || s.type === "integer" ? numberProblem(k, s, v) : undefined;
    if (problem) throw new ConfigError(problem);
    r[k] = v;
  }
  if (r.precision === "fp16" && r.gradAccum !== 1)
    throw new ConfigError("--precision fp16 needs --grad-accum 1 (dynamic loss scaling per step); raise --batch-size instead");
  if (o.full && (o.loraRank !== undefined || o.loraTargets !== undefined))
    throw new ConfigError("--full and --lora-* options exclude each other");
  const lora = o.full ? null : { rank: r.loraRank as number, alpha: r.loraAlpha as number, targets: parseLoraTargets(o.loraTargets) };
  const { model: _m, data: _d, full: _f, loraRank: _r, loraAlpha: _a, loraTargets: _t, apiKey: _k, cacheDir: _c, recompute, ...run } = r;
  return { ...(run as Omit<ResolvedOptions, "out" | "lora" | "recompute">), out: resolve(o.out), lora, recompute: recompute === true };
}

/**
 * The must-match options whose values differ between a checkpoint's run and this one, each as the
 * flags say it: `--lr 1e-4 (checkpoint) vs 2e-4 (now)` (empty: it may resume).
 */
export function resumeMismatches(before: Partial<ResolvedOptions>, now: ResolvedOptions): string[] {
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  const value = (v: unknown) => (v === undefined ? "(not set)" : typeof v === "number" ? shown(v) : String(v));
  const diffs = MUST_MATCH.filter((k) => differs(before[k], now[k])).map(
    (k) => `--${flagOf(k)} ${value(before[k])} (checkpoint) vs ${value(now[k])} (now)`,
  );
  if (differs(before.lora, now.lora)) diffs.push(`${describeLora(before.lora)} (checkpoint) vs ${describeLora(now.lora)} (now)`);
  return diffs;
}

const describeLora = (lora: LoraConfig | null | undefined) =>
  lora ? `--lora-rank ${lora.rank} --lora-alpha ${lora.alpha} --lora-targets ${lora.targets.join(",")}` : "--full";
