/** `iopo ifeval` end to end: a real process, real files, outputs compared with the reference's. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INPUT_DATA, REFERENCE_LOOSE, REFERENCE_STRICT, RESPONSES, IFEVAL_DIR } from "./helpers/ifeval-data.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");

function iopo(...args: string[]) {
  const result = spawnSync(NODE, ["bin/iopo.mjs", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "iopo-cli-"));
}

describe("iopo ifeval", () => {
  it("writes eval_results identical to the reference's, a report, and prints it", () => {
    const out = tempDir();
    const run = iopo("ifeval", "--input-data", INPUT_DATA, "--responses", RESPONSES, "--output-dir", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(readFileSync(join(out, "eval_results_strict.jsonl"), "utf8")).toBe(readFileSync(REFERENCE_STRICT, "utf8"));
    expect(readFileSync(join(out, "eval_results_loose.jsonl"), "utf8")).toBe(readFileSync(REFERENCE_LOOSE, "utf8"));
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.strict.prompt_level).toMatchObject({ correct: 417, total: 541 });
    expect(report.loose.instruction_level).toMatchObject({ correct: 714, total: 834 });
    expect(run.stdout).toMatch(/prompt-level\s+0\.7708 \(417\/541\)\s+0\.7967 \(431\/541\)/);
    expect(run.stdout).toMatch(/instruction-level\s+0\.8369 \(698\/834\)\s+0\.8561 \(714\/834\)/);
  });

  it("names the key of a prompt without a response, unless --allow-missing", () => {
    // input_data.jsonl differs from the GPT-4 prompt set at key 2785, so that prompt has no response.
    const out = tempDir();
    const missing = iopo("ifeval", "--input-data", `${IFEVAL_DIR}input_data.jsonl`, "--responses", RESPONSES, "--output-dir", out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no response for the prompt of key 2785/);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);

    const allowed = iopo(
      "ifeval",
      "--input-data",
      `${IFEVAL_DIR}input_data.jsonl`,
      "--responses",
      RESPONSES,
      "--output-dir",
      out,
      "--allow-missing",
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/1 prompts had no response/);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.missing_responses).toEqual([2785]);
    expect(report.prompts).toBe(541);
  });

  it("reports bad lines, bad kwargs and bad usage in one line with a non-zero status", () => {
    const dir = tempDir();
    const input = join(dir, "input.jsonl");
    const responses = join(dir, "responses.jsonl");
    writeFileSync(responses, '{"prompt": "p", "response": "hello"}\n');

    writeFileSync(input, '{"key": 1, "prompt": "p", "instruction_id_list": [], "kwargs": []}\n{not json\n');
    let run = iopo("ifeval", "--input-data", input, "--responses", responses, "--output-dir", dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/input\.jsonl line 2: not valid JSON/);

    writeFileSync(input, '{"key": "one", "prompt": "p", "instruction_id_list": [], "kwargs": []}\n');
    run = iopo("ifeval", "--input-data", input, "--responses", responses, "--output-dir", dir);
    expect(run.stderr).toMatch(/line 1: field key: /);

    writeFileSync(
      input,
      '{"key": 7, "prompt": "p", "instruction_id_list": ["length_constraints:number_words", "no:such_id"], "kwargs": [{"relation": "at least"}, {}]}\n',
    );
    run = iopo("ifeval", "--input-data", input, "--responses", responses, "--output-dir", dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/key 7\.kwargs\[0\]\.num_words: required/);
    expect(run.stderr).toMatch(/key 7\.instruction_id_list\[1\]: unknown instruction id "no:such_id"/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);

    run = iopo("ifeval", "--input-data", join(dir, "absent.jsonl"), "--responses", responses, "--output-dir", dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot read --input-data .*absent\.jsonl: ENOENT/);

    run = iopo("ifeval", "--responses", responses);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing --input-data, --output-dir/);

    run = iopo("nonsense");
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown command "nonsense"/);
  });
});
