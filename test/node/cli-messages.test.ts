/**
 * What the command lines say when a newcomer gets something wrong or stops reading early: real
 * processes (`bin/iopo.mjs`, `gpu-trainer/bin/iopo-train.mjs`), their output captured.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { IMPORT_EXAMPLES, IMPORT_FORMATS, convertLine } from "../../src/datasets/importers.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");
const IOPO = "bin/iopo.mjs";
const IOPO_TRAIN = "gpu-trainer/bin/iopo-train.mjs";

function run(bin: string, ...args: string[]) {
  const result = spawnSync(NODE, [bin, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command whose stdout reader has already gone (`... | head -0`): every write to it fails with EPIPE. */
function runWithClosedStdout(bin: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [bin, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("a closed stdout (`iopo ... | head`)", () => {
  it("ends the command quietly, with its files written and its own exit status", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iopo-epipe-"));
    writeFileSync(
      join(dir, "input.jsonl"),
      `${JSON.stringify({ key: 1, prompt: "p", instruction_id_list: ["punctuation:no_comma"], kwargs: [{}] })}\n`,
    );
    writeFileSync(join(dir, "responses.jsonl"), `${JSON.stringify({ prompt: "p", response: "no commas here" })}\n`);
    const out = join(dir, "out");
    const [judged, help] = await Promise.all([
      runWithClosedStdout(
        IOPO,
        "ifeval",
        "--input-data",
        join(dir, "input.jsonl"),
        "--responses",
        join(dir, "responses.jsonl"),
        "--output-dir",
        out,
      ),
      runWithClosedStdout(IOPO_TRAIN, "--help"),
    ]);
    expect(judged).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).strict.prompt_level).toMatchObject({ correct: 1, total: 1 });
    expect(existsSync(join(out, "eval_results_strict.jsonl"))).toBe(true);
    expect(help).toEqual({ code: 0, stderr: "" });
  });
});

describe("an unknown option", () => {
  it("is named in the command's words, with the flag that was probably meant, then the usage", () => {
    const typo = run(IOPO, "ifeval", "--input-dat", "x.jsonl");
    expect(typo.code).toBe(2);
    expect(typo.stderr.split("\n")[0]).toBe("iopo ifeval: unknown option --input-dat (did you mean --input-data?)");
    expect(typo.stderr).toMatch(/\nUsage: iopo ifeval /);

    const bogus = run(IOPO, "import", "--bogus-flag");
    expect(bogus.stderr.split("\n")[0]).toBe("iopo import: unknown option --bogus-flag");
    expect(bogus.stderr).not.toMatch(/positional|as in '/);

    const trainer = run(IOPO_TRAIN, "train", "--warmup-rate", "0.1");
    expect(trainer.code).toBe(2);
    expect(trainer.stderr.split("\n")[0]).toBe("iopo-train train: unknown option --warmup-rate (did you mean --warmup-ratio?)");
  });
});

describe("iopo import --help", () => {
  it("shows one example line per --format, each one the importer converts", () => {
    const help = run(IOPO, "import", "--help");
    expect(help.code).toBe(0);
    for (const format of IMPORT_FORMATS) {
      const { line, becomes } = IMPORT_EXAMPLES[format];
      expect(help.stdout).toContain(`  ${format}: ${becomes}\n    ${line}\n`);
      const record = convertLine(format, JSON.parse(line), { describe: (id) => id });
      expect(becomes.startsWith(record.kind)).toBe(true);
    }
  });
});
