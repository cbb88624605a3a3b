import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * A command's options (plus -h/--help). Returns undefined when help was asked for and printed;
 * unknown or malformed options are a usage error (exit 2) that repeats the usage text.
 */
export function parseCommandArgs<const O extends Options>(argv: string[], options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n${usage}`, 2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    return undefined;
  }
  return parsed as ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true; args: string[] }>>;
}

/** The API a command talks to: --api and --key, or IOPO_API_URL and IOPO_API_KEY. */
export function apiConnection(values: { api?: string; key?: string }): { base: string; key: string | undefined } {
  return { base: (values.api ?? process.env.IOPO_API_URL ?? "").replace(/\/+$/, ""), key: values.key ?? process.env.IOPO_API_KEY };
}
