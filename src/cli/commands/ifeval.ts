/**
 * `iopo ifeval`: the IFEval benchmark on a file of responses, with the reference's outputs.
 *
 *   iopo ifeval --input-data input_data.jsonl --responses responses.jsonl --output-dir out/ [--allow-missing]
 *
 * Writes out/eval_results_strict.jsonl and out/eval_results_loose.jsonl (the reference's format,
 * one line per input record in input order) and out/report.json, and prints the report.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  JudgeInputError,
  evaluateIfeval,
  formatIssuePath,
  type Accuracy,
  type IfevalInputRecord,
  type IfevalReport,
} from "../../judge/index.ts";
import { CliError } from "../errors.ts";
import { pythonJsonDumps } from "../python-json.ts";

export const IFEVAL_USAGE = `Usage: iopo ifeval --input-data <input_data.jsonl> --responses <responses.jsonl> --output-dir <dir> [--allow-missing]

Judges the responses with IFEval's 25 verifiable instructions, strict and loose, exactly as Google's
reference implementation does. Responses are matched to prompts by the prompt string.

  --input-data     JSONL of {key, prompt, instruction_id_list, kwargs}
  --responses      JSONL of {prompt, response}
  --output-dir     where eval_results_strict.jsonl, eval_results_loose.jsonl and report.json go
  --allow-missing  judge prompts without a response as an empty response (all instructions fail)
                   instead of stopping with an error
`;

const inputRecordSchema = z.object({
  key: z.int(),
  prompt: z.string(),
  instruction_id_list: z.array(z.string()),
  kwargs: z.array(z.unknown()),
});

const responseRecordSchema = z.object({ prompt: z.string(), response: z.string() });

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Parses JSONL, validating each line; errors name the file and line. */
function parseJsonl<T>(text: string, path: string, schema: z.ZodType<T>): T[] {
  const rows: T[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CliError(`${path} line ${i + 1}: invalid JSON (${(error as Error).message})`);
    }
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const where = issue.path.length > 0 ? `field ${formatIssuePath(issue.path as Array<string | number>)}: ` : "";
      throw new CliError(`${path} line ${i + 1}: ${where}${issue.message}`);
    }
    rows.push(result.data);
  });
  if (rows.length === 0) throw new CliError(`${path}: no records`);
  return rows;
}

export async function runIfeval(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "input-data": { type: "string" },
        responses: { type: "string" },
        "output-dir": { type: "string" },
        "allow-missing": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${IFEVAL_USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(IFEVAL_USAGE);
    return 0;
  }
  const inputPath = values["input-data"];
  const responsesPath = values.responses;
  const outputDir = values["output-dir"];
  const missingFlags = [
    ["--input-data", inputPath],
    ["--responses", responsesPath],
    ["--output-dir", outputDir],
  ].filter(([, value]) => !value);
  if (missingFlags.length > 0) {
    throw new CliError(`missing ${missingFlags.map(([flag]) => flag).join(", ")}\n\n${IFEVAL_USAGE}`, 2);
  }

  const records: IfevalInputRecord[] = parseJsonl(await readText(inputPath!, "--input-data"), inputPath!, inputRecordSchema);
  const responseRows = parseJsonl(await readText(responsesPath!, "--responses"), responsesPath!, responseRecordSchema);
  // As in the reference, a later response for the same prompt replaces an earlier one.
  const responses = new Map(responseRows.map((row) => [row.prompt, row.response]));

  const missing = records.filter((record) => !responses.has(record.prompt));
  if (missing.length > 0 && !values["allow-missing"]) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : "";
    throw new CliError(
      `${responsesPath}: no response for the prompt of key ${missing[0]!.key}${more}; pass --allow-missing to judge missing responses as empty`,
    );
  }

  let evaluation;
  try {
    evaluation = evaluateIfeval(records, responses, { allowMissing: values["allow-missing"] });
  } catch (error) {
    if (error instanceof JudgeInputError) {
      const shown = error.issues.slice(0, 3).map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
      const hidden = error.issues.length - shown.length;
      throw new CliError(`${inputPath}: ${shown.join("; ")}${hidden > 0 ? ` (and ${hidden} more)` : ""}`);
    }
    throw error;
  }

  try {
    await mkdir(outputDir!, { recursive: true });
    const jsonl = (rows: unknown[]) => rows.map((row) => pythonJsonDumps(row) + "\n").join("");
    await writeFile(join(outputDir!, "eval_results_strict.jsonl"), jsonl(evaluation.strict));
    await writeFile(join(outputDir!, "eval_results_loose.jsonl"), jsonl(evaluation.loose));
    await writeFile(join(outputDir!, "report.json"), JSON.stringify(evaluation.report, null, 2) + "\n");
  } catch (error) {
    throw new CliError(`cannot write to --output-dir ${outputDir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }

  if (missing.length > 0) {
    process.stderr.write(`iopo ifeval: warning: ${missing.length} prompts had no response and were judged as empty\n`);
  }
  process.stdout.write(formatReport(evaluation.report));
  process.stdout.write(`\nWrote eval_results_strict.jsonl, eval_results_loose.jsonl and report.json to ${outputDir}\n`);
  return 0;
}

function cell(a: Accuracy): string {
  return `${a.accuracy.toFixed(4)} (${a.correct}/${a.total})`;
}

/** The report as a table: overall, then per category and per instruction id, strict and loose side by side. */
export function formatReport(report: IfevalReport): string {
  const rows: Array<[string, string, string]> = [
    ["prompt-level", cell(report.strict.prompt_level), cell(report.loose.prompt_level)],
    ["instruction-level", cell(report.strict.instruction_level), cell(report.loose.instruction_level)],
  ];
  const section = (title: string, strict: Record<string, Accuracy>, loose: Record<string, Accuracy>) => {
    rows.push(["", "", ""], [title, "", ""]);
    for (const key of Object.keys(strict)) rows.push([`  ${key}`, cell(strict[key]!), cell(loose[key]!)]);
  };
  section("by category", report.strict.by_category, report.loose.by_category);
  section("by instruction", report.strict.by_instruction, report.loose.by_instruction);
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = [
    `IFEval: ${report.prompts} prompts, ${report.instructions} instructions`,
    "",
    `${"".padEnd(width)}  ${"strict".padEnd(20)}  loose`,
    ...rows.map(([name, strict, loose]) => (strict ? `${name.padEnd(width)}  ${strict.padEnd(20)}  ${loose}` : name)),
  ];
  return lines.join("\n") + "\n";
}
