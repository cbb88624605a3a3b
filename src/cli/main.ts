/** The `iopo` command line: one entry, sub-commands in src/cli/commands/. */
import { runEvalVerifiable } from "./commands/eval-verifiable.ts";
import { runIfbench, runIfeval } from "./commands/ifeval.ts";
import { runBuildQuadruples } from "./commands/build-quadruples.ts";
import { runBuildTrace } from "./commands/build-trace.ts";
import { runCfbench } from "./commands/cfbench.ts";
import { runImport } from "./commands/import.ts";
import { runJobs } from "./commands/jobs.ts";
import { runTraceEval } from "./commands/trace-eval.ts";
import { checkerContext } from "./context.ts";
import { ApiError } from "@iopo/common";
import { InputError, UsageError } from "@iopo/common/cli";
import { VERSION } from "../version.ts";

const COMMANDS: Record<string, { summary: string; run(argv: string[]): Promise<number> }> = {
  "eval-verifiable": {
    summary: "judge responses on IFEval and/or IFBench (--suite ifeval|ifbench|all), strict and loose",
    run: (argv) => runEvalVerifiable(argv),
  },
  ifeval: { summary: "judge responses on the IFEval benchmark (strict and loose), reference-exact", run: runIfeval },
  ifbench: { summary: "judge responses on the IFBench benchmark (strict and loose), as its reference does", run: runIfbench },
  import: {
    summary: "stream a JSONL file into a dataset through the API",
    run: async (argv) => runImport(argv, await checkerContext()),
  },
  "build-quadruples": {
    summary: "build IOPO quadruples from a dataset's SFT records through the API's job (rules; --llm for free-text constraints; resumable)",
    run: runBuildQuadruples,
  },
  "build-trace": {
    summary: "build TRACE-style instruction+response data from simple instructions with the API's LLM (resumable job, then a version)",
    run: runBuildTrace,
  },
  jobs: { summary: "watch, pause, resume or cancel a dataset job that runs on the server", run: runJobs },
  cfbench: {
    summary: "score CFBench (CSR, ISR, PSR; easy, hard, full) with the API's LLM judge, or --replay recorded judgements",
    run: runCfbench,
  },
  "trace-eval": { summary: "score responses on TRACE (IF-S, IF-M) with the API's LLM judge, in batches", run: runTraceEval },
};

/** Runs `iopo <command> ...` and returns the exit status (0 ok, 1 bad input, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h") {
    process.stdout.write(usage());
    return command ? 0 : 2;
  }
  if (command === "--version") {
    process.stdout.write(`iopo ${VERSION} (Node ${process.version})\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`iopo: unknown command "${command}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await entry.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`iopo ${command}: ${error.message}${error.usage ? `\n${error.usage}` : ""}\n`);
      return error.exitCode;
    }
    if (error instanceof InputError) {
      process.stderr.write(`iopo ${command}: ${error.message}\n`);
      return error.exitCode;
    }
    // a refusal the command did not put in its own words: its one line says what and why
    if (error instanceof ApiError) {
      process.stderr.write(`iopo ${command}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    "Usage: iopo <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`),
    "",
    "Run `iopo <command> --help` for a command's options; `iopo --version` prints the version.",
    "",
  ].join("\n");
}
