/**
 * `iopo build-trace` and `iopo build-quadruples --llm` end to end as real processes: the API
 * served by `npm start`'s server (wrangler dev, local D1) whose LLM provider is the fake
 * OpenAI-protocol server on 127.0.0.1 (test/fake-llm), answering the pipelines' prompts. From 20
 * plain prompts, one command builds a TRACE-style dataset version and the other the quadruples;
 * `iopo cfbench` scores answers joined with CFBench-shaped data (written here).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importFile } from "../../src/cli/commands/import.ts";
import { startFakeLlm, type FakeLlm } from "../fake-llm/server.ts";
// @ts-expect-error -- plain ESM helper shared with the benchmarks
import { startServer } from "../../scripts/lib/server.mjs";

const MARKERS: Record<number, string> = {
  3: "[[fake:qc=contradictory]]",
  7: "[[fake:offtask]]",
  9: "[[fake:malformed]]",
  13: "[[fake:weak]]",
  17: "[[fake:y2off]]",
};

describe("iopo build-trace and build-quadruples --llm (through a running API and a fake provider)", () => {
  let fake: FakeLlm;
  let server: Awaited<ReturnType<typeof startServer>>;
  const dir = mkdtempSync(join(tmpdir(), "iopo-pipelines-"));
  beforeAll(async () => {
    fake = await startFakeLlm();
    await fetch(`${fake.url}/s/cli/__script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fallback: { auto: {} } }),
    });
    server = await startServer({
      env: {
        IOPO_DEV_VARS: JSON.stringify({
          LLM_PROVIDER: "openai",
          LLM_BASE_URL: `${fake.url}/s/cli/v1`,
          LLM_MODEL: "fake-writer-1",
          LLM_BACKOFF_MS: "10",
          LLM_TIMEOUT_MS: "5000",
        }),
      },
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // asynchronous: the fake provider answers from this very process
  const iopo = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [
        join(import.meta.dirname, "../../bin/iopo.mjs"),
        ...args,
        "--api",
        server.base,
        "--key",
        server.adminToken,
      ]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });

  it("builds a TRACE-style version from 20 plain prompts, then IOPO quadruples from it, each with a summary", async () => {
    const file = join(dir, "plain.jsonl");
    const prompts = Array.from({ length: 20 }, (_, i) => ({
      kind: "instruction",
      instruction: { description: `Explain idea number ${i} to a curious student. ${MARKERS[i] ?? ""}`.trim(), constraints: [] },
    }));
    writeFileSync(file, prompts.map((p) => JSON.stringify(p)).join("\n"));
    await importFile({ api: server.base, key: server.adminToken, dataset: "plain-prompts", format: "iopo", file });

    const trace = await iopo("build-trace", "--dataset", "plain-prompts", "--target", "plain-trace", "--seed", "5", "--batch", "7");
    expect(trace.status, trace.stderr).toBe(0);
    const traced = JSON.parse(trace.stdout) as {
      status: string;
      produced: number;
      skipped: Record<string, number>;
      usage: { total_tokens: number; calls: number };
      version: { version: number; record_count: number };
    };
    expect(traced).toMatchObject({
      status: "done",
      produced: 18,
      skipped: { "quality control: contradictory": 1, "the response scored below 10 on a constraint": 1 },
    });
    expect(traced.version).toMatchObject({ version: 1, record_count: 18 });
    expect(traced.usage.total_tokens).toBeGreaterThan(0);
    expect(trace.stderr).toMatch(/rejects by reason:\n\s+quality control: contradictory\s+1/);
    expect(trace.stderr).toMatch(/tokens: \d+ prompt \+ \d+ completion = \d+ in \d+ model calls; 0 cache hits/);
    expect(trace.stderr).toMatch(/version 1 of plain-trace: 18 records/);
    process.stdout.write(`\n--- iopo build-trace ---\n${trace.stderr}`);

    const quads = await iopo(
      "build-quadruples",
      "--llm",
      "--dataset",
      "plain-trace",
      "--target",
      "plain-iopo",
      "--seed",
      "2",
      "--batch",
      "5",
    );
    expect(quads.status, quads.stderr).toBe(0);
    const built = JSON.parse(quads.stdout) as {
      status: string;
      produced: number;
      skipped: Record<string, number>;
      usage: { total_tokens: number };
    };
    expect(built).toMatchObject({ status: "done", produced: 16, skipped: { "y1 still satisfies x2": 1, "y2 does not satisfy x2": 1 } });
    expect(built.usage.total_tokens).toBeGreaterThan(0);
    expect(quads.stderr).toMatch(/produced by operation: /);
    // like build-trace, it freezes the target as a version
    expect(quads.stderr).toMatch(/version 1 of plain-iopo: 16 records/);
    process.stdout.write(`\n--- iopo build-quadruples --llm ---\n${quads.stderr}`);

    const rejects = (await // a job's rejects are its owner's (here the admin token's) to read
    (
      await fetch(`${server.base}/v1/datasets/plain-trace/jobs/${(JSON.parse(quads.stdout) as { job: string }).job}/rejects`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      })
    ).json()) as { by_reason: Record<string, number> };
    expect(rejects.by_reason).toEqual({ "y1 still satisfies x2": 1, "y2 does not satisfy x2": 1 });

    // the same build again as a new job: every answer comes from the cache
    const again = await iopo("build-trace", "--dataset", "plain-prompts", "--target", "plain-trace-2", "--seed", "5", "--no-version");
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ produced: 18, usage: { calls: 0, total_tokens: 0 } });
  }, 240_000);

  it("scores CFBench answers through the API's judge: published data joined with {idx, response} lines", async () => {
    const data = join(dir, "cfbench_data.json");
    const criteria = (...c: [string, string][]) => c.map(([text, priority]) => [text, priority, "内容约束", "语义内容约束"]);
    writeFileSync(
      data,
      JSON.stringify([
        {
          idx: 0,
          prompt: "Describe a lighthouse.",
          gold: "",
          split: "easy",
          criteria: criteria(["describes a lighthouse", "主需"], ["is two sentences [[fake:0]]", "次需"]),
        },
        {
          idx: 1,
          prompt: "List three rivers.",
          gold: "",
          split: "hard",
          criteria: criteria(["lists rivers", "主需"], ["exactly three", "主需"]),
        },
      ]),
    );
    const answers = join(dir, "answers.jsonl");
    writeFileSync(
      answers,
      [
        { idx: 1, response: "Nile, Amazon, Danube." },
        { idx: 0, response: "A tall tower with a light." },
      ]
        .map((a) => JSON.stringify(a))
        .join("\n"),
    );
    const out = join(dir, "cfbench.json");
    const run = await iopo("cfbench", "--data", data, "--responses", answers, "--json", out);
    expect(run.status, run.stderr).toBe(0);
    const written = JSON.parse(readFileSync(out, "utf8")) as { scores: Record<string, unknown>; usage: { calls: number } };
    // idx 0: secondary 0 -> CSR 0.5, PSR 0.5 + 0 = 0.5 -> 0; idx 1: all primary met -> 1, 1, 1
    expect(written.scores).toEqual({
      easy: { CSR: 0.5, ISR: 0, PSR: 0, items: 1 },
      hard: { CSR: 1, ISR: 1, PSR: 1, items: 1 },
      full: { CSR: 0.75, ISR: 0.5, PSR: 0.5, items: 2 },
    });
    expect(written.usage.calls).toBe(2);
    expect(run.stdout).toMatch(/full\s+0\.75\s+0\.50\s+0\.50\s+2/);
  }, 60_000);
});
