/** `iopo ifbench` and `iopo eval-verifiable` end to end: a real process, real files, outputs compared with the reference's. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  IFBENCH_INPUT,
  IFBENCH_INPUT_ORIG,
  IFBENCH_KNOWN_EXCEPTIONS,
  IFBENCH_REFERENCE_LOOSE,
  IFBENCH_REFERENCE_STRICT,
  IFBENCH_RESPONSES,
} from "./helpers/ifbench-data.ts";
import { INPUT_DATA, REFERENCE_STRICT, RESPONSES } from "./helpers/ifeval-data.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");

function iopo(...args: string[]) {
  const result = spawnSync(NODE, ["bin/iopo.mjs", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tempDir = () => mkdtempSync(join(tmpdir(), "iopo-ifbench-cli-"));
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);
const keysOf = (path: string) => lines(path).map((line) => (JSON.parse(line) as { key: string }).key);

/** Output lines that differ from the reference's, as "key id". */
function differingLines(ours: string[], reference: string[], keys: string[]): string[] {
  expect(ours).toHaveLength(reference.length);
  const diffs: string[] = [];
  ours.forEach((line, i) => {
    if (line === reference[i]) return;
    const mine = JSON.parse(line) as { instruction_id_list: string[]; follow_instruction_list: boolean[] };
    const theirs = JSON.parse(reference[i]!) as typeof mine;
    mine.follow_instruction_list.forEach((f, j) => {
      if (f !== theirs.follow_instruction_list[j]) diffs.push(`${keys[i]} ${mine.instruction_id_list[j]}`);
    });
  });
  return diffs;
}

describe("iopo ifbench", () => {
  it("writes the reference's eval_results byte for byte, but for the known exceptions, and a report", () => {
    const out = tempDir();
    const run = iopo("ifbench", "--input-data", IFBENCH_INPUT_ORIG, "--responses", IFBENCH_RESPONSES, "--output-dir", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const keys = keysOf(IFBENCH_INPUT_ORIG);
    const exceptions = [...IFBENCH_KNOWN_EXCEPTIONS];
    expect(differingLines(lines(join(out, "eval_results_strict.jsonl")), lines(IFBENCH_REFERENCE_STRICT), keys)).toEqual(exceptions);
    expect(differingLines(lines(join(out, "eval_results_loose.jsonl")), lines(IFBENCH_REFERENCE_LOOSE), keys)).toEqual(exceptions);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.suite).toBe("ifbench");
    expect(report.strict.prompt_level).toMatchObject({ correct: 80, total: 294 });
    expect(report.loose.instruction_level).toMatchObject({ correct: 112, total: 335 });
    expect(Object.keys(report.strict.by_category)).toEqual(["count", "custom", "format", "ratio", "repeat", "sentence", "words"]);
    expect(run.stdout).toMatch(/^IFBench: 294 prompts, 335 instructions/);
    expect(run.stdout).toMatch(/prompt-level\s+0\.2721 \(80\/294\)\s+0\.3095 \(91\/294\)/);
  });

  it("matches prompts modulo surrounding whitespace and names string keys without a response", () => {
    const dir = tempDir();
    const responses = join(dir, "responses.jsonl");
    // the current 300-prompt release: the 6 new prompts have no sample response
    writeFileSync(
      responses,
      lines(IFBENCH_RESPONSES)
        .map((line) => {
          const row = JSON.parse(line) as { prompt: string; response: string };
          return JSON.stringify({ prompt: `\n${row.prompt.trim()}  `, response: row.response });
        })
        .join("\n"),
    );
    const missing = iopo("ifbench", "--input-data", IFBENCH_INPUT, "--responses", responses, "--output-dir", dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no response for the prompt of key \S+ \(and \d+ more\); pass --allow-missing/);
    const allowed = iopo("ifbench", "--input-data", IFBENCH_INPUT, "--responses", responses, "--output-dir", dir, "--allow-missing");
    expect(allowed.code).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    expect(report.prompts).toBe(300);
    expect(report.missing_responses.every((key: unknown) => typeof key === "string")).toBe(true);
    expect(report.missing_responses.length).toBeGreaterThan(0);
    expect(report.missing_responses.length).toBeLessThan(300);
  });
});

describe("iopo eval-verifiable", () => {
  it("--suite all judges records that mix IFEval and IFBench ids", () => {
    const dir = tempDir();
    const input = join(dir, "input.jsonl");
    const responses = join(dir, "responses.jsonl");
    writeFileSync(
      input,
      [
        { key: 1, prompt: "p1", instruction_id_list: ["punctuation:no_comma", "format:no_whitespace"], kwargs: [{}, {}] },
        {
          key: "two",
          prompt: "p2",
          instruction_id_list: ["count:word_count_range", "length_constraints:number_words"],
          kwargs: [
            { min_words: 2, max_words: 3, N: null },
            { num_words: 3, relation: "at least" },
          ],
        },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n") + "\n",
    );
    writeFileSync(responses, '{"prompt": "p1", "response": "no,commas"}\n{"prompt": "p2", "response": "three small words"}\n');
    const run = iopo("eval-verifiable", "--suite", "all", "--input-data", input, "--responses", responses, "--output-dir", dir);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const strict = lines(join(dir, "eval_results_strict.jsonl")).map((line) => JSON.parse(line));
    expect(strict.map((row) => row.follow_instruction_list)).toEqual([
      [false, true],
      [true, true],
    ]);
    expect(run.stdout).toMatch(/^IFEval \+ IFBench: 2 prompts, 4 instructions/);
    expect(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")).suite).toBe("all");
  });

  it("--suite ifeval is `iopo ifeval` and rejects IFBench ids; bad suites are usage errors", () => {
    const out = tempDir();
    const run = iopo("eval-verifiable", "--suite", "ifeval", "--input-data", INPUT_DATA, "--responses", RESPONSES, "--output-dir", out);
    expect(run.code).toBe(0);
    expect(readFileSync(join(out, "eval_results_strict.jsonl"), "utf8")).toBe(readFileSync(REFERENCE_STRICT, "utf8"));

    const wrong = iopo(
      "eval-verifiable",
      "--suite",
      "ifeval",
      "--input-data",
      IFBENCH_INPUT_ORIG,
      "--responses",
      IFBENCH_RESPONSES,
      "--output-dir",
      out,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/line 1: field key: /); // IFBench keys are strings
    const dir = tempDir();
    const input = join(dir, "input.jsonl");
    writeFileSync(input, '{"key": 3, "prompt": "p", "instruction_id_list": ["format:no_whitespace"], "kwargs": [{}]}\n');
    const mixed = iopo("ifeval", "--input-data", input, "--responses", IFBENCH_RESPONSES, "--output-dir", dir);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(
      /key 3\.instruction_id_list\[0\]: "format:no_whitespace" is an IFBench id, not an IFEval one \(use --suite all\)/,
    );

    const bad = iopo("eval-verifiable", "--suite", "ifeval2", "--input-data", input, "--responses", input, "--output-dir", dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--suite must be one of ifeval, ifbench, all/);
    const fixed = iopo("ifbench", "--suite", "all", "--input-data", input, "--responses", input, "--output-dir", dir);
    expect(fixed.code).toBe(2);
  });

  it("reports invalid IFBench kwargs with their path", () => {
    const dir = tempDir();
    const input = join(dir, "input.jsonl");
    const responses = join(dir, "responses.jsonl");
    writeFileSync(
      input,
      '{"key": "9", "prompt": "p", "instruction_id_list": ["count:words_japanese"], "kwargs": [{"N": 0, "small_n": null}]}\n',
    );
    writeFileSync(responses, '{"prompt": "p", "response": "x"}\n');
    const run = iopo("ifbench", "--input-data", input, "--responses", responses, "--output-dir", dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/key 9\.kwargs\[0\]\.N: /);
  });
});
