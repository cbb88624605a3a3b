/** The `iopo` command line: one entry, sub-commands in src/cli/commands/. */
export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (!command || command === "--help" || command === "-h") {
    process.stdout.write(usage());
    return command ? 0 : 2;
  }
  process.stderr.write(`iopo: unknown command "${command}"\n\n${usage()}`);
  return 2;
}

function usage(): string {
  return ["Usage: iopo <command> [options]", "", "Commands:", "  (none yet)", ""].join("\n");
}
