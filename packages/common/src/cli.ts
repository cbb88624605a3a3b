/**
 * @iopo/common/cli: the one argument style of the command lines (`iopo` and `iopo-train`). Node
 * only (node:util, process.stdout), so it is its own entry: the Worker imports `@iopo/common` and
 * never bundles this.
 *
 * Options are node:util `parseArgs` (strict) plus -h/--help; a mistake is an error the command's
 * `main` prints as one line: a UsageError (exit status 2, with the command's usage) or an
 * InputError (exit status 1).
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { closest } from "./closest.ts";

/** Bad usage: an unknown, malformed or missing option, a value out of range. Exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode = 2;
  constructor(
    message: string,
    /** The command's usage text, for `main` to print after the message (when the message does not hold it). */
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** Input that cannot be used (an unreadable or malformed file, an API that refuses). Exit status 1. */
export class InputError extends Error {
  override name = "InputError";
  readonly exitCode = 1;
}

export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * A command's options (plus -h/--help) and positionals, typed from `options`. Returns undefined
 * when help was asked for (the usage is then printed on stdout). Unknown or malformed options are
 * a UsageError carrying `usage`: an unknown one as `unknown option --x` with the nearest flag, any
 * other as parseArgs' first line (`hints` keeps the lines of advice it adds, e.g. after an ambiguous
 * `--seed -1`); so is any positional argument unless `positionals` allows them.
 */
export function parseCommandArgs<const O extends CommandOptions>(
  argv: string[],
  options: O,
  usage: string,
  { positionals = false, hints = false }: { positionals?: boolean; hints?: boolean } = {},
) {
  let parsed: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true; args: string[] }>>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(unknownOptionMessage(message, options), usage);
    throw new UsageError(hints ? message : message.split("\n")[0]!, usage);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage.endsWith("\n") ? usage : `${usage}\n`);
    return undefined;
  }
  if (!positionals && parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`, usage);
  return parsed;
}

/**
 * `unknown option --bogus` and, when one is near enough to be what was meant, `(did you mean
 * --bogs?)`. parseArgs' own text ("Unknown option '--bogus'. To specify a positional argument
 * starting with a '-' ...") names the option inside advice about positionals.
 */
function unknownOptionMessage(parseArgsMessage: string, options: CommandOptions): string {
  const given = /^Unknown option '([^']*)'/.exec(parseArgsMessage)?.[1] ?? parseArgsMessage.split("\n")[0]!;
  const name = given.replace(/^-+/, "").split("=")[0]!;
  const flags = [...Object.keys(options), "help"];
  // a flag within about half the name's length in edits is a typo of it; further off, a guess misleads
  const [nearest] = closest(name, flags, { within: Math.max(2, Math.floor(name.length / 2)) });
  return `unknown option ${given}${nearest ? ` (did you mean --${nearest}?)` : ""}`;
}

/** String options, all of them (the common case). */
export const stringOptions = <const N extends string>(names: readonly N[]) =>
  Object.fromEntries(names.map((name) => [name, { type: "string" as const }])) as { [K in N]: { type: "string" } };

/** Every one of `names` given and not empty, or a UsageError naming the missing ones. */
export function requireOptions(values: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((name) => values[name] === undefined || values[name] === "");
  if (missing.length) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(", ")}`);
}

/** A number option within bounds (undefined when not given). */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  bounds: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === "string" && raw.trim() === "" ? Number.NaN : Number(raw);
  const ok =
    Number.isFinite(value) &&
    (!bounds.int || Number.isInteger(value)) &&
    (bounds.min === undefined || value >= bounds.min) &&
    (bounds.max === undefined || value <= bounds.max);
  if (!ok) {
    const range = [bounds.min !== undefined ? `>= ${bounds.min}` : "", bounds.max !== undefined ? `<= ${bounds.max}` : ""]
      .filter(Boolean)
      .join(" and ");
    throw new UsageError(`--${name} must be ${bounds.int ? "an integer" : "a number"}${range ? ` ${range}` : ""}, got "${String(raw)}"`);
  }
  return value;
}

/** An option whose value is one of `choices` (undefined when not given). */
export function choiceOption<C extends string>(values: Record<string, unknown>, name: string, choices: readonly C[]): C | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (!(choices as readonly unknown[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${String(value)}"`);
  }
  return value as C;
}
