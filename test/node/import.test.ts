import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importFile, ImportError } from "../../src/cli/commands/import.ts";
import { convertLine } from "../../src/datasets/importers.ts";
import { renderPrompt, type Instruction } from "../../src/datasets/records.ts";
// @ts-expect-error -- plain ESM helper shared with the benchmarks
import { startServer } from "../../scripts/lib/server.mjs";

const data = join(import.meta.dirname, "../../data");
const readJsonl = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("importers", () => {
  it("converts all of TRACE's eval set so that the rendered prompt is TRACE's user message", () => {
    const rows = readJsonl(join(data, "trace/trace_eval.jsonl"));
    expect(rows).toHaveLength(1042);
    for (const row of rows) {
      const record = convertLine("trace", row);
      expect(record.kind).toBe("instruction");
      const instruction = (record as { instruction: Instruction }).instruction;
      const messages = row.messages as { role: string; content: string }[];
      expect(renderPrompt(instruction)).toBe(messages[1]!.content);
      expect(instruction.system).toBe(messages[0]!.content);
      expect(instruction.constraints).toHaveLength(row.constraints_num as number);
    }
  });

  it("keeps TRACE labels outside the taxonomy in meta instead of failing", () => {
    const record = convertLine(
      "trace",
      { id: "9", description: "d", constraints_splits: ["1. a", "2. b"], levels2: ["包含约束", "·"], input: "NULL", messages: [] },
      { dimensionLabels: new Set(["包含约束"]) },
    ) as { instruction: Instruction; meta: Record<string, unknown> };
    expect(record.instruction.constraints).toEqual([{ text: "1. a", dimension: "包含约束" }, { text: "2. b" }]);
    expect(record.meta.unmapped_levels2).toEqual(["·"]);
  });

  it("reads IFEval prompts with their checkers, dropping null kwargs", () => {
    const record = convertLine("ifeval", { key: 7, prompt: "P", instruction_id_list: ["a:b"], kwargs: [{ n: 3, m: null }] }) as {
      instruction: Instruction;
    };
    expect(record.instruction.prompt).toBe("P");
    expect(record.instruction.constraints[0]!.checker).toEqual({ id: "a:b", kwargs: { n: 3 } });
  });
});

describe("iopo import (through a running API)", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const dir = mkdtempSync(join(tmpdir(), "iopo-import-"));
  beforeAll(async () => {
    server = await startServer();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("seeded TRACE's eval set and the IFEval and IFBench prompts at start-up, with a first version", async () => {
    for (const [name, count] of [
      ["trace-eval", 1042],
      ["ifeval", 541],
      ["ifbench", 300],
    ] as const) {
      const body = (await (await fetch(`${server.base}/v1/datasets/${name}`)).json()) as { record_count: number; versions: unknown[] };
      expect(body.record_count).toBe(count);
      expect(body.versions).toHaveLength(1);
    }
  });

  it("imports LLaMA-Factory IOPO quadruples and TRL pairs idempotently", async () => {
    const file = join(dir, "lf.jsonl");
    const quads = Array.from({ length: 25 }, (_, i) => ({
      conversations: [
        { from: "human", value: `Describe item ${i} in English.` },
        { from: "human", value: `Describe item ${i} in French.` },
      ],
      chosen: { from: "gpt", value: `Item ${i}.` },
      rejected: { from: "gpt", value: `Objet ${i}.` },
    }));
    writeFileSync(file, quads.map((q) => JSON.stringify(q)).join("\n") + "\n");
    const options = { api: server.base, key: server.adminToken, dataset: "lf", format: "llamafactory-iopo" as const, file, batch: 10 };
    expect(await importFile(options)).toEqual({ received: 25, inserted: 25, duplicates: 0, record_count: 25 });
    expect(await importFile(options)).toEqual({ received: 25, inserted: 0, duplicates: 25, record_count: 25 });

    const dpoFile = join(dir, "dpo.jsonl");
    writeFileSync(
      dpoFile,
      [
        { prompt: "Say hi", chosen: "hi", rejected: "bye" },
        {
          prompt: [{ role: "user", content: "Say yes" }],
          chosen: [{ role: "assistant", content: "yes" }],
          rejected: [{ role: "assistant", content: "no" }],
        },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    expect(await importFile({ ...options, dataset: "pairs", format: "trl-dpo", file: dpoFile })).toMatchObject({ inserted: 2 });
    const rows = (await (await fetch(`${server.base}/v1/datasets/pairs/rows`)).json()) as {
      rows: { row: { chosen: string; prompt: { prompt: string } } }[];
    };
    expect(rows.rows.map((r) => [r.row.prompt.prompt, r.row.chosen])).toEqual([
      ["Say hi", "hi"],
      ["Say yes", "yes"],
    ]);
  });

  it("names the file line of a bad record and sends nothing after it", async () => {
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, [JSON.stringify({ prompt: "a", chosen: "b", rejected: "c" }), "{oops"].join("\n"));
    await expect(importFile({ api: server.base, key: server.adminToken, dataset: "bad", format: "trl-dpo", file })).rejects.toThrow(
      /bad\.jsonl:2: not valid JSON/,
    );
    const missing = join(dir, "missing-field.jsonl");
    writeFileSync(missing, JSON.stringify({ prompt: "a", chosen: "b" }));
    await expect(
      importFile({ api: server.base, key: server.adminToken, dataset: "bad", format: "trl-dpo", file: missing }),
    ).rejects.toThrow(/missing-field\.jsonl:1: rejected/);
    const count = (await (
      await fetch(`${server.base}/v1/datasets/bad`, { headers: { authorization: `Bearer ${server.adminToken}` } })
    ).json()) as { record_count: number };
    expect(count.record_count).toBe(0);
  });

  it("reports an unreachable API and a wrong key in one line", async () => {
    const file = join(dir, "one.jsonl");
    writeFileSync(file, JSON.stringify({ prompt: "a", chosen: "b", rejected: "c" }));
    await expect(importFile({ api: "http://127.0.0.1:9", key: "k", dataset: "x", format: "trl-dpo", file })).rejects.toThrow(ImportError);
    await expect(importFile({ api: server.base, key: "iopo_wrong", dataset: "x", format: "trl-dpo", file })).rejects.toThrow(/401/);
  });

  it("builds quadruples from the command line, and resumes a finished job as a no-op", async () => {
    const file = join(dir, "sft.jsonl");
    const instruction = {
      description: "Describe autumn.",
      constraints: [
        {
          text: "Use at least 4 words.",
          checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 4 } },
        },
      ],
    };
    const responses = [
      "Autumn leaves fall slowly, gold and red.",
      "AUTUMN IS A COOL SEASON.",
      "autumn is a cool season of harvest.",
      "Autumn is crisp. P.S. enjoy it",
    ];
    writeFileSync(file, responses.map((response) => JSON.stringify({ kind: "sft", instruction, response })).join("\n"));
    await importFile({ api: server.base, key: server.adminToken, dataset: "autumn", format: "iopo", file });
    const cli = (args: string[]) =>
      spawnSync(
        process.execPath,
        [
          join(import.meta.dirname, "../../bin/iopo.mjs"),
          "build-quadruples",
          "--api",
          server.base,
          "--key",
          server.adminToken,
          "--dataset",
          "autumn",
          ...args,
        ],
        {
          encoding: "utf8",
        },
      );
    const run = cli(["--target", "autumn-iopo", "--batch", "2"]);
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { job: string; status: string; produced: number };
    expect(summary.status).toBe("done");
    expect(summary.produced).toBeGreaterThan(0);
    const again = cli(["--job", summary.job]);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ job: summary.job, produced: summary.produced });
    const bad = cli([]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--target/);
  });
});
