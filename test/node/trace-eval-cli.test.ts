/**
 * `iopo trace-eval` end to end as a real process, against a stand-in for the API's
 * POST /v1/benchmarks/trace/score (the route itself is tested in workerd: test/worker/llm-trace.test.ts).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/.bin/node");

function iopo(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, ["bin/iopo.mjs", ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The API stand-in: id "0"-"199" have one constraint, others two; "fail"/"error" in a response decide its first one. */
const batches: { url: string; auth: string | undefined; ids: string[] }[] = [];
let server: Server;
let api: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const items = body
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; response: string });
      batches.push({ url: req.url!, auth: req.headers.authorization, ids: items.map((i) => i.id) });
      const unknown = items.findIndex((i) => Number(i.id) > 900);
      if (unknown >= 0) {
        res.writeHead(422, { "content-type": "application/problem+json" });
        res.end(
          JSON.stringify({
            status: 422,
            detail: "1 response(s) match no instruction",
            errors: [{ field: "id", line: unknown + 1, message: "no TRACE instruction" }],
          }),
        );
        return;
      }
      const verdicts = items.map((item, i) => {
        const single = Number(item.id) <= 199;
        const first = item.response.includes("error")
          ? { status: "error", passed: null }
          : { status: "ok", passed: !item.response.includes("fail") };
        const results = [{ text: "c1", dimension: "Tone and Style", type: "Style Constraint", ...first }];
        if (!single)
          results.push({
            text: "c2",
            dimension: "Hierarchical Structure Constraint",
            type: "Content Constraint",
            status: "ok",
            passed: true,
          });
        return { id: item.id, line: i + 1, subset: single ? "IF-S" : "IF-M", status: "x", followed_all: false, errors: 0, results };
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          report: {
            dataset: "trace-eval",
            dataset_instructions: 1042,
            judge: { provider: "openai", model: "m", prompt_version: "trace-judge-v1", pass_score: 10 },
          },
          verdicts,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const dir = () => mkdtempSync(join(tmpdir(), "iopo-trace-"));

describe("iopo trace-eval", () => {
  it("sends the responses in batches and merges the verdicts into one report", async () => {
    const d = dir();
    const file = join(d, "responses.jsonl");
    const lines = [
      { id: 0, response: "ok" },
      { id: "1", response: "fail" },
      { id: "2", response: "error" },
      { id: "300", response: "ok" },
      { id: "301", response: "fail" },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n\n`);
    batches.length = 0;
    const run = await iopo(
      "trace-eval",
      "--api",
      `${api}/`,
      "--key",
      "k1",
      "--responses",
      file,
      "--out",
      join(d, "out"),
      "--batch",
      "2",
      "--cache",
      "bypass",
    );
    expect(run.code, run.stderr).toBe(0);
    expect(batches.map((b) => b.ids)).toEqual([["0", "1"], ["2", "300"], ["301"]]);
    expect(batches[0]!.url).toBe("/v1/benchmarks/trace/score?cache=bypass");
    expect(batches[0]!.auth).toBe("Bearer k1");

    const report = JSON.parse(readFileSync(join(d, "out", "trace_report.json"), "utf8"));
    expect(report.if_s).toMatchObject({ total: 3, followed: 1, not_followed: 1, undetermined: 1 });
    expect(report.if_m).toMatchObject({ total: 2, followed: 1, not_followed: 1, undetermined: 0 });
    expect(report.overall).toMatchObject({ total: 5, followed: 2, accuracy: 0.4 });
    expect(report.constraints).toMatchObject({ total: 7, passed: 4, failed: 2, errors: 1 });
    expect(report.by_type["Content Constraint"]).toMatchObject({ total: 2, passed: 2 });
    expect(report.errors).toEqual({ instructions: 1, constraints: 1, ids: ["2"] });
    expect(report).toMatchObject({ responses: 5, dataset_instructions: 1042, instructions_without_response: 1037 });
    const verdicts = readFileSync(join(d, "out", "trace_verdicts.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(verdicts.map((v: { id: string; line: number }) => [v.id, v.line])).toEqual([
      ["0", 1],
      ["1", 2],
      ["2", 3],
      ["300", 4],
      ["301", 5],
    ]);

    expect(run.stdout).toMatch(/IF-S\s+33\.3%\s+1\/3\s+1/);
    expect(run.stdout).toMatch(/IF-M\s+50\.0%\s+1\/2\s+0/);
    expect(run.stdout).toMatch(/overall\s+40\.0%\s+2\/5/);
    expect(run.stdout).toMatch(/grader errors: 1 constraints in 1 responses: ids 2/);
    // the per-type and per-dimension rows share one name column, as wide as TRACE's longest name
    const rows = run.stdout.split("\n").filter((l) => /^ {2}\S.*%/.test(l));
    expect(rows).toContain("  Hierarchical Structure Constraint  100.0%  2/2");
    expect(rows).toContain("  Tone and Style                      40.0%  2/5  (1 errors)");
    expect(new Set(rows.map((l) => l.indexOf("%"))).size).toBe(1);
    expect(run.stderr).toMatch(/could not be graded/);
  });

  it("stops with one line naming the file lines when the API refuses a batch", async () => {
    const d = dir();
    const file = join(d, "responses.jsonl");
    writeFileSync(file, `${JSON.stringify({ id: "0", response: "a" })}\n${JSON.stringify({ id: "999", response: "b" })}\n`);
    const run = await iopo("trace-eval", "--api", api, "--responses", file);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(
      /lines 1-2: the API refused a batch: 422 1 response\(s\) match no instruction \(batch line 2: id: no TRACE instruction\)/,
    );
  });

  it("checks the file and the arguments before sending anything", async () => {
    const d = dir();
    const file = join(d, "bad.jsonl");
    writeFileSync(file, `${JSON.stringify({ id: "0", response: "a" })}\n{oops\n`);
    batches.length = 0;
    const bad = await iopo("trace-eval", "--api", api, "--responses", file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.jsonl:2: not valid JSON/);
    writeFileSync(file, `${JSON.stringify({ id: "0", response: "a" })}\n${JSON.stringify({ id: 0, response: "b" })}\n`);
    expect((await iopo("trace-eval", "--api", api, "--responses", file)).stderr).toMatch(/:2: id 0 was already given on line 1/);
    expect((await iopo("trace-eval", "--api", api)).code).toBe(2);
    expect((await iopo("trace-eval", "--api", api, "--responses", file, "--batch", "51")).code).toBe(2);
    expect(batches).toHaveLength(0);
  });
});
