/**
 * The one argument-parser style of the iopo-train commands: node:util parseArgs (strict, --help),
 * mistakes as errors that src/cli/main.ts prints as one line (a UsageError followed by the
 * command's usage, exit status 2; an InputError alone, exit status 1).
 */
import { parseArgs } from "node:util";

/** Bad usage: an unknown or missing option, a value out of range. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A command's input that cannot be used (an unreadable prompts file, an API that refuses). */
export class InputError extends Error {
  override name = "InputError";
}

export type Values = Record<string, string | boolean | undefined>;
export type OptionTypes = Record<string, { type: "string" | "boolean" }>;

/** Parse a command's arguments; undefined when --help printed the usage. */
export function parseCommandArgs(argv: string[], options: OptionTypes, usage: string): Values | undefined {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(usage.endsWith("\n") ? usage : `${usage}\n`);
      return undefined;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return values as Values;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

/** String options, all of them (the common case). */
export const stringOptions = (names: string[]): OptionTypes => Object.fromEntries(names.map((k) => [k, { type: "string" as const }]));

export function requireOptions(values: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((k) => values[k] === undefined || values[k] === "");
  if (missing.length) throw new UsageError(`missing ${missing.map((k) => `--${k}`).join(", ")}`);
}

/** A number option within bounds (undefined when not given). */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  opts: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = typeof raw === "string" && raw.trim() === "" ? NaN : Number(raw);
  const ok =
    Number.isFinite(v) &&
    (!opts.int || Number.isInteger(v)) &&
    (opts.min === undefined || v >= opts.min) &&
    (opts.max === undefined || v <= opts.max);
  if (!ok) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : "", opts.max !== undefined ? `<= ${opts.max}` : ""]
      .filter(Boolean)
      .join(" and ");
    throw new UsageError(`--${name} must be ${opts.int ? "an integer" : "a number"}${range ? ` ${range}` : ""}, got "${String(raw)}"`);
  }
  return v;
}

/** An option whose value is one of `choices` (undefined when not given). */
export function choiceOption<C extends string>(values: Record<string, unknown>, name: string, choices: readonly C[]): C | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (!(choices as readonly unknown[]).includes(v))
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${String(v)}"`);
  return v as C;
}
