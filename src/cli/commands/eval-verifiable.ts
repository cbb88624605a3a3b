/**
 * `iopo eval-verifiable`: the verifiable-instruction benchmarks (IFEval, IFBench, or any mix) on a
 * file of responses, with the reference implementations' outputs.
 *
 *   iopo eval-verifiable --suite ifeval|ifbench|all --input-data input.jsonl --responses responses.jsonl --output-dir out/ [--allow-missing]
 *
 * `iopo ifeval ...` and `iopo ifbench ...` are the same command with the suite fixed. Writes
 * out/eval_results_strict.jsonl and out/eval_results_loose.jsonl (the references' format, one line
 * per input record in input order) and out/report.json, and prints the report.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  JudgeInputError,
  evaluateIfeval,
  formatIssuePath,
  getChecker,
  responseLookup,
  type Accuracy,
  type BenchmarkInputRecord,
  type IfevalReport,
} from "../../judge/index.ts";
import { ndjsonLines } from "@iopo/common";
import { choiceOption, InputError, parseCommandArgs, requireOptions, stringOptions, UsageError } from "@iopo/common/cli";
import { pythonJsonDumps } from "../python-json.ts";

export const SUITES = ["ifeval", "ifbench", "all"] as const;
export type Suite = (typeof SUITES)[number];

const SUITE_TITLES: Record<Suite, string> = { ifeval: "IFEval", ifbench: "IFBench", all: "IFEval + IFBench" };

/** How each suite reads its input: IFEval's keys are integers and prompts match exactly; IFBench's keys are strings and prompts match modulo surrounding whitespace. */
const SUITE_RULES: Record<Suite, { key: z.ZodType<number | string>; stripPrompts: boolean }> = {
  ifeval: { key: z.int(), stripPrompts: false },
  ifbench: { key: z.union([z.string(), z.int()]), stripPrompts: true },
  all: { key: z.union([z.string(), z.int()]), stripPrompts: true },
};

function usage(command: string, fixedSuite: Suite | undefined): string {
  const suiteFlag = fixedSuite ? "" : "--suite ifeval|ifbench|all ";
  const what = fixedSuite
    ? fixedSuite === "ifeval"
      ? "IFEval's 25 verifiable instructions, exactly as Google's reference implementation does"
      : "IFBench's 58 verifiable instructions, as AllenAI's reference implementation does"
    : "the verifiable instructions of IFEval (25 ids) and IFBench (58 ids), as the reference implementations do";
  return `Usage: iopo ${command} ${suiteFlag}--input-data <input.jsonl> --responses <responses.jsonl> --output-dir <dir> [--allow-missing]

Judges the responses with ${what}, strict and loose. Responses are matched to prompts by the
prompt string (IFBench: also with surrounding whitespace stripped, as its reference does).

${
  fixedSuite
    ? ""
    : `  --suite          ifeval: IFEval ids only, integer keys; ifbench: IFBench ids only;
                   all: each record is judged on whatever ids it has (default)
`
}  --input-data     JSONL of {key, prompt, instruction_id_list, kwargs}
  --responses      JSONL of {prompt, response}
  --output-dir     where eval_results_strict.jsonl, eval_results_loose.jsonl and report.json go
  --allow-missing  judge prompts without a response as an empty response (all instructions fail)
                   instead of stopping with an error
`;
}

const responseRecordSchema = z.object({ prompt: z.string(), response: z.string() });

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(`cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Parses JSONL, validating each line; errors name the file and line. */
function parseJsonl<T>(text: string, path: string, schema: z.ZodType<T>): T[] {
  const rows: T[] = [];
  for (const entry of ndjsonLines(text)) {
    if ("error" in entry) throw new InputError(`${path} line ${entry.line}: ${entry.error}`);
    const result = schema.safeParse(entry.value);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const where = issue.path.length > 0 ? `field ${formatIssuePath(issue.path as Array<string | number>)}: ` : "";
      throw new InputError(`${path} line ${entry.line}: ${where}${issue.message}`);
    }
    rows.push(result.data);
  }
  if (rows.length === 0) throw new InputError(`${path}: no records`);
  return rows;
}

/** Ids outside the suite, as issues at the record's `instruction_id_list` (unknown ids are left to the judge). */
function suiteIssues(records: readonly BenchmarkInputRecord[], suite: Suite): string[] {
  if (suite === "all") return [];
  const issues: string[] = [];
  for (const record of records) {
    record.instruction_id_list.forEach((id, i) => {
      let family: string;
      try {
        family = getChecker(id).family;
      } catch {
        return;
      }
      if (family !== suite) {
        issues.push(
          `key ${record.key}.instruction_id_list[${i}]: ${JSON.stringify(id)} is an ${family === "ifeval" ? "IFEval" : "IFBench"} id, not an ${SUITE_TITLES[suite]} one (use --suite all)`,
        );
      }
    });
  }
  return issues;
}

function oneLine(issues: string[]): string {
  const shown = issues.slice(0, 3);
  const hidden = issues.length - shown.length;
  return `${shown.join("; ")}${hidden > 0 ? ` (and ${hidden} more)` : ""}`;
}

/** Runs the command; `fixedSuite` makes it `iopo ifeval` / `iopo ifbench` (no --suite flag). */
export async function runEvalVerifiable(argv: string[], fixedSuite?: Suite): Promise<number> {
  const command = fixedSuite && fixedSuite !== "all" ? fixedSuite : "eval-verifiable";
  const text = usage(command, fixedSuite);
  const values = parseCommandArgs(
    argv,
    {
      ...(fixedSuite ? {} : { suite: { type: "string" } }),
      ...stringOptions(["input-data", "responses", "output-dir"]),
      "allow-missing": { type: "boolean" },
    },
    text,
  )?.values;
  if (!values) return 0;
  let suite: Suite;
  try {
    suite = fixedSuite ?? choiceOption(values, "suite", SUITES) ?? "all";
    requireOptions(values, ["input-data", "responses", "output-dir"]);
  } catch (error) {
    // a mistake in this command's flags is shown with its usage, as parseCommandArgs' own are
    throw error instanceof UsageError ? new UsageError(error.message, text) : error;
  }
  const inputPath = values["input-data"]!;
  const responsesPath = values.responses!;
  const outputDir = values["output-dir"]!;
  const allowMissing = values["allow-missing"] ?? false;

  const rules = SUITE_RULES[suite];
  const inputSchema = z.object({
    key: rules.key,
    prompt: z.string(),
    instruction_id_list: z.array(z.string()),
    kwargs: z.array(z.unknown()),
  });
  const records: BenchmarkInputRecord[] = parseJsonl(await readText(inputPath!, "--input-data"), inputPath!, inputSchema);
  const responseRows = parseJsonl(await readText(responsesPath!, "--responses"), responsesPath!, responseRecordSchema);
  // As in the references, a later response for the same prompt replaces an earlier one.
  const responses = new Map(responseRows.map((row) => [row.prompt, row.response]));

  const wrongSuite = suiteIssues(records, suite);
  if (wrongSuite.length > 0) throw new InputError(`${inputPath}: ${oneLine(wrongSuite)}`);

  const lookup = responseLookup(responses, rules.stripPrompts);
  const missing = records.filter((record) => lookup(record.prompt) === undefined);
  if (missing.length > 0 && !allowMissing) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : "";
    throw new InputError(
      `${responsesPath}: no response for the prompt of key ${missing[0]!.key}${more}; pass --allow-missing to judge missing responses as empty`,
    );
  }

  let evaluation;
  try {
    evaluation = evaluateIfeval(records, responses, { allowMissing, stripPrompts: rules.stripPrompts });
  } catch (error) {
    if (error instanceof JudgeInputError) {
      throw new InputError(`${inputPath}: ${oneLine(error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`))}`);
    }
    throw error;
  }

  try {
    await mkdir(outputDir!, { recursive: true });
    const jsonl = (rows: unknown[]) => rows.map((row) => pythonJsonDumps(row) + "\n").join("");
    await writeFile(join(outputDir!, "eval_results_strict.jsonl"), jsonl(evaluation.strict));
    await writeFile(join(outputDir!, "eval_results_loose.jsonl"), jsonl(evaluation.loose));
    await writeFile(join(outputDir!, "report.json"), JSON.stringify({ suite, ...evaluation.report }, null, 2) + "\n");
  } catch (error) {
    throw new InputError(`cannot write to --output-dir ${outputDir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }

  if (missing.length > 0) {
    process.stderr.write(`iopo ${command}: warning: ${missing.length} prompts had no response and were judged as empty\n`);
  }
  process.stdout.write(formatReport(evaluation.report, SUITE_TITLES[suite]));
  process.stdout.write(`\nWrote eval_results_strict.jsonl, eval_results_loose.jsonl and report.json to ${outputDir}\n`);
  return 0;
}

function cell(a: Accuracy): string {
  return `${a.accuracy.toFixed(4)} (${a.correct}/${a.total})`;
}

/** The report as a table: overall, then per category and per instruction id, strict and loose side by side. */
export function formatReport(report: IfevalReport, title = "IFEval"): string {
  const rows: Array<[string, string, string]> = [
    ["prompt-level", cell(report.strict.prompt_level), cell(report.loose.prompt_level)],
    ["instruction-level", cell(report.strict.instruction_level), cell(report.loose.instruction_level)],
  ];
  const section = (heading: string, strict: Record<string, Accuracy>, loose: Record<string, Accuracy>) => {
    rows.push(["", "", ""], [heading, "", ""]);
    for (const key of Object.keys(strict)) rows.push([`  ${key}`, cell(strict[key]!), cell(loose[key]!)]);
  };
  section("by category", report.strict.by_category, report.loose.by_category);
  section("by instruction", report.strict.by_instruction, report.loose.by_instruction);
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = [
    `${title}: ${report.prompts} prompts, ${report.instructions} instructions`,
    "",
    `${"".padEnd(width)}  ${"strict".padEnd(20)}  loose`,
    ...rows.map(([name, strict, loose]) => (strict ? `${name.padEnd(width)}  ${strict.padEnd(20)}  ${loose}` : name)),
  ];
  return lines.join("\n") + "\n";
}
