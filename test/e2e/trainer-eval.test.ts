/**
 * The trainer's `iopo-train eval` (@iopo/gpu-trainer) against the Worker, started locally
 * (scripts/lib/server.mjs: its own port and D1):
 * a tiny custom dataset scored through /v1/judge/batch (IF-S / IF-M, strict and loose), IFEval
 * through its score route, the CLI's files and figures, and the generate command.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "@iopo/common";
import { createNodeCpuEngine, type Engine, evaluateModel, loadBenchmark, renderPrompt, scoreBenchmark } from "@iopo/gpu-trainer";
import { main } from "@iopo/gpu-trainer/cli";
// @ts-expect-error -- plain ESM helper shared with the benchmarks and the demo
import { startServer } from "../../scripts/lib/server.mjs";

const constraint = (text: string, id: string, kwargs: Record<string, unknown> = {}) => ({ text, checker: { id, kwargs } });
const NO_COMMA = constraint("In your entire response, refrain from the use of any commas.", "punctuation:no_comma");
const LOWER = constraint("Your entire response should be in English, and in all lowercase letters.", "change_case:english_lowercase");
const WORDS = constraint("Answer with less than 25 words.", "length_constraints:number_words", { relation: "less than", num_words: 25 });
const RECORDS = [
  { kind: "instruction", instruction: { description: "Write a short text about owls.", constraints: [NO_COMMA] } },
  { kind: "instruction", instruction: { description: "Write a short text about tea.", constraints: [LOWER] } },
  { kind: "instruction", instruction: { description: "Write a short text about bees.", constraints: [NO_COMMA, LOWER] } },
  { kind: "instruction", instruction: { description: "Write a short text about chess.", constraints: [NO_COMMA, LOWER, WORDS] } },
  { kind: "instruction", instruction: { description: "Say hello.", constraints: [] } },
];
/** For RECORDS[0..3]: owls ok; tea fails; bees ok strictly; chess fails one of three. */
const RESPONSES = ["Owls are quiet and old.", "Tea is Nice.", "bees are small and useful.", "chess is old, and quiet."];

let server: { base: string; adminToken: string; stop(): Promise<void> };
let engine: Engine;
const dir = mkdtempSync(join(tmpdir(), "iopo-eval-"));

beforeAll(async () => {
  server = await startServer();
  const h = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };
  await fetch(`${server.base}/v1/datasets`, { method: "POST", headers: h, body: JSON.stringify({ name: "eval-tiny" }) });
  const res = await fetch(`${server.base}/v1/datasets/eval-tiny/records`, { method: "POST", headers: h, body: JSON.stringify(RECORDS) });
  expect(res.status).toBeLessThan(300);
  engine = await createNodeCpuEngine();
}, 120_000);
afterAll(async () => {
  await engine?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("benchmarks through the judge API", () => {
  it("a custom dataset: prompts rendered as the API renders them, IF-S / IF-M and strict / loose from /v1/judge/batch", async () => {
    const api = new ApiClient(server.base);
    const b = await loadBenchmark(api, "eval-tiny");
    expect(b.kind).toBe("custom");
    expect(b.items.map((i) => i.constraints)).toEqual([1, 1, 2, 3]);
    expect(b.skipped).toEqual({ "no constraints": 1 });
    expect(b.items[2].prompt).toBe(`Write a short text about bees.\n${NO_COMMA.text}\n${LOWER.text}\n`);
    expect(b.items[2].prompt).toBe(renderPrompt(RECORDS[2].instruction));
    const s = await scoreBenchmark(api, b, RESPONSES);
    expect(s.items.map((i) => i.followed)).toEqual([true, false, true, false]);
    expect(s.metrics.if_s).toEqual({ correct: 1, total: 2, accuracy: 0.5 });
    expect(s.metrics.if_m).toEqual({ correct: 1, total: 2, accuracy: 0.5 });
    expect(s.metrics.prompt_strict!.correct).toBe(2);
    // constraints: 1 + 0 + 2 + 2 of 7 pass strictly
    expect(s.metrics.instruction_strict).toEqual({ correct: 5, total: 7, accuracy: 5 / 7 });
    expect(s.metrics.instruction_loose!.total).toBe(7);
  });

  it("IFEval: responses matched by key, figures equal the route's own report", async () => {
    const api = new ApiClient(server.base);
    const b = await loadBenchmark(api, "ifeval", { limit: 5 });
    expect(b.items).toHaveLength(5);
    expect(b.items.every((i) => typeof i.ref.key === "number")).toBe(true);
    const s = await scoreBenchmark(
      api,
      b,
      b.items.map(() => "a short answer without much in it"),
    );
    const report = s.apiReport as {
      prompts: number;
      strict: { prompt_level: { accuracy: number }; instruction_level: { accuracy: number } };
    };
    expect(report.prompts).toBe(5);
    expect(s.metrics.prompt_strict!.accuracy).toBeCloseTo(report.strict.prompt_level.accuracy, 12);
    expect(s.metrics.instruction_strict!.accuracy).toBeCloseTo(report.strict.instruction_level.accuracy, 12);
  });

  it("TRACE without an LLM judge on the API is refused before anything is generated", async () => {
    await expect(
      evaluateModel({ model: "tiny:micro", benchmark: "trace", judge: server.base, engine, limit: 2, log: () => {} }),
    ).rejects.toThrow(/LLM/);
  });
});

describe("evaluate a tiny model", () => {
  it("generates, judges and writes the report, verdicts and responses", async () => {
    const out = join(dir, "eval");
    const r = await evaluateModel({
      model: "tiny:micro",
      benchmark: "eval-tiny",
      judge: server.base,
      engine,
      out,
      maxNewTokens: 12,
      batchSize: 3,
      log: () => {},
    });
    expect(r.metrics.items).toBe(4);
    expect(r.metrics.if_s!.total + r.metrics.if_m!.total).toBe(4);
    expect(r.items.every((i) => i.completion_tokens <= 12)).toBe(true);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.metrics).toEqual(r.metrics);
    expect(readFileSync(join(out, "verdicts.jsonl"), "utf8").trim().split("\n")).toHaveLength(4);
    const responses = readFileSync(join(out, "responses.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(responses.map((x) => x.response)).toEqual(r.items.map((i) => i.response));
  });

  it("iopo-train eval and iopo-train generate (CLI)", async () => {
    const out = join(dir, "cli");
    const write = process.stdout.write.bind(process.stdout);
    let printed = "";
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(
        await main([
          "eval",
          "--model",
          "tiny:micro",
          "--benchmark",
          "eval-tiny",
          "--judge",
          server.base,
          "--out",
          out,
          "--max-new-tokens",
          "6",
          "--device",
          "cpu",
        ]),
      ).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toMatch(/IF-S\s+\d+\.\d%\s+\(\d\/2\)/);
    expect(printed).toMatch(/instruction-level loose/);
    expect(existsSync(join(out, "report.json"))).toBe(true);

    const prompts = join(dir, "prompts.jsonl");
    writeFileSync(
      prompts,
      [
        '"Hello"',
        JSON.stringify({ prompt: "Write a short text about owls.", id: 7 }),
        JSON.stringify({ instruction: RECORDS[2].instruction }),
      ].join("\n"),
    );
    const gen = join(dir, "gen.jsonl");
    expect(
      await main([
        "generate",
        "--model",
        "tiny:micro",
        "--prompts",
        prompts,
        "--out",
        gen,
        "--max-new-tokens",
        "5",
        "--temperature",
        "0.7",
        "--seed",
        "3",
        "--device",
        "cpu",
      ]),
    ).toBe(0);
    const lines = readFileSync(gen, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[1].id).toBe(7);
    expect(
      lines.every((l) => typeof l.response === "string" && l.completion_tokens <= 5 && ["stop", "length"].includes(l.finish_reason)),
    ).toBe(true);
    expect(await main(["eval", "--model", "tiny:micro", "--benchmark", "eval-tiny"])).toBe(2);
    expect(await main(["generate", "--model", "tiny:micro", "--prompts", join(dir, "nope.jsonl"), "--out", gen])).toBe(1);
  });
});
