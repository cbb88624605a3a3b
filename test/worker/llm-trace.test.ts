/**
 * TRACE scoring end to end: a few real TRACE evaluation lines seeded as dataset `trace-eval`,
 * responses judged by the LLM judge (the fake provider's automatic verdicts, steered per response
 * by `[[fake:Cn=score]]` / `[[fake:http=status]]` markers), the IF-S/IF-M report checked.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { convertLine } from "../../src/datasets/importers.ts";
import { renderPrompt, type Instruction } from "../../src/datasets/records.ts";
import { ADMIN, call, expectProblem, postJson } from "./helpers.ts";
import { callWith, fakeLlm, sentMaterial } from "./llm-helpers.ts";

type TraceLine = { id: string; levels2: string[]; constraints_splits: string[] };
const SAMPLE = env.TRACE_EVAL_SAMPLE.trim()
  .split("\n")
  .map((l) => JSON.parse(l) as TraceLine);

async function taxonomy() {
  const { results } = await env.DB.prepare("SELECT name, type, label_zh FROM constraint_dimensions").all<{
    name: string;
    type: string;
    label_zh: string;
  }>();
  return new Map(results.map((d) => [d.label_zh, { name: d.name, type: d.type }]));
}

async function seedTrace() {
  const labels = new Set((await taxonomy()).keys());
  const created = await postJson("/v1/datasets", { name: "trace-eval" }, ADMIN);
  expect([201, 409]).toContain(created.status);
  const records = SAMPLE.map((line) => convertLine("trace", line, { dimensionLabels: labels }));
  const res = await call("/v1/datasets/trace-eval/records", {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/x-ndjson" },
    body: records.map((r) => JSON.stringify(r)).join("\n"),
  });
  expect(res.status).toBe(200);
  return records;
}

function score(vars: Record<string, unknown>, body: string, query = "", contentType = "application/x-ndjson") {
  return callWith(vars, `/v1/benchmarks/trace/score${query}`, { method: "POST", headers: { "content-type": contentType }, body });
}

const ndjson = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join("\n");

type Acc = {
  total: number;
  followed: number;
  not_followed: number;
  undetermined: number;
  accuracy: number;
  accuracy_excluding_errors: number;
};
type CAcc = { total: number; passed: number; failed: number; errors: number; accuracy: number };
type Report = {
  dataset: string;
  dataset_instructions: number;
  instructions: number;
  overall: Acc;
  if_s: Acc;
  if_m: Acc;
  constraints: CAcc;
  by_type: Record<string, CAcc>;
  by_dimension: Record<string, CAcc & { type: string | null }>;
  errors: { instructions: number; constraints: number; ids: string[] };
  judge: { provider: string; model: string; prompt_version: string; pass_score: number };
};
type TraceVerdict = {
  id: string;
  line: number;
  subset: string;
  status: string;
  followed_all: boolean;
  errors: number;
  results: {
    text: string;
    dimension: string | null;
    type: string | null;
    status: string;
    passed: boolean | null;
    score?: number;
    explanation?: string;
    reason?: string;
  }[];
};

describe("POST /v1/benchmarks/trace/score", () => {
  it("judges every constraint and reports IF-S, IF-M, overall, per type and dimension, with errors apart", async () => {
    const records = await seedTrace();
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const nonce = crypto.randomUUID();
    const submissions = [
      { id: "0", response: `A lyrical description. ${nonce}` }, // followed
      { id: 1, response: `A story. [[fake:C1=3]] ${nonce}` }, // its one constraint fails
      { id: "2", response: `{"mean": 5} [[fake:http=500]] ${nonce}` }, // the judge keeps failing
      { id: "200", response: `Role play. [[fake:C3=9]] ${nonce}` }, // 7 of 8 pass
      { id: "201", response: `All good. ${nonce}` }, // followed
    ];
    const res = await score({ LLM_BASE_URL: fake.baseUrl }, ndjson(submissions));
    expect(res.status).toBe(200);
    const { report, verdicts } = (await res.json()) as { report: Report; verdicts: TraceVerdict[] };

    expect(verdicts.map((v) => [v.id, v.subset, v.status, v.followed_all, v.errors])).toEqual([
      ["0", "IF-S", "followed", true, 0],
      ["1", "IF-S", "not_followed", false, 0],
      ["2", "IF-S", "undetermined", false, 1],
      ["200", "IF-M", "not_followed", false, 0],
      ["201", "IF-M", "followed", true, 0],
    ]);
    expect(verdicts[2]!.results[0]).toMatchObject({ status: "error", passed: null });
    expect(verdicts[2]!.results[0]!.reason).toMatch(/HTTP 500/);
    expect(verdicts[3]!.results.map((r) => r.passed)).toEqual([true, true, false, true, true, true, true, true]);
    expect(verdicts[3]!.results[2]).toMatchObject({ status: "ok", score: 9, text: SAMPLE[3]!.constraints_splits[2] });

    expect(report.if_s).toEqual({
      total: 3,
      followed: 1,
      not_followed: 1,
      undetermined: 1,
      accuracy: 1 / 3,
      accuracy_excluding_errors: 1 / 2,
    });
    expect(report.if_m).toEqual({
      total: 2,
      followed: 1,
      not_followed: 1,
      undetermined: 0,
      accuracy: 1 / 2,
      accuracy_excluding_errors: 1 / 2,
    });
    expect(report.overall).toMatchObject({ total: 5, followed: 2, not_followed: 2, undetermined: 1, accuracy: 2 / 5 });
    expect(report.constraints).toEqual({ total: 19, passed: 16, failed: 2, errors: 1, accuracy: 16 / 19 });
    expect(report.errors).toEqual({ instructions: 1, constraints: 1, ids: ["2"] });
    expect(report).toMatchObject({ dataset: "trace-eval", dataset_instructions: 5, instructions: 5 });
    expect(report.judge).toEqual({ provider: "openai", model: "fake-judge-1", prompt_version: "trace-judge-v2", pass_score: 10 });

    // per type and dimension, from the taxonomy in D1 and the outcome of each constraint
    const tax = await taxonomy();
    const outcome = (id: string, i: number) =>
      id === "2" ? "errors" : (id === "1" && i === 0) || (id === "200" && i === 2) ? "failed" : "passed";
    const byType: Record<string, CAcc> = {};
    const byDimension: Record<string, CAcc & { type: string | null }> = {};
    for (const line of SAMPLE) {
      line.levels2.forEach((label, i) => {
        const d = tax.get(label)!;
        expect(d, label).toBeDefined();
        for (const [map, key] of [
          [byType, d.type],
          [byDimension, d.name],
        ] as const) {
          const t = ((map as Record<string, CAcc>)[key] ??= { total: 0, passed: 0, failed: 0, errors: 0, accuracy: 0 });
          t.total++;
          t[outcome(line.id, i)]++;
          t.accuracy = t.passed / t.total;
        }
        byDimension[d.name]!.type = d.type;
      });
    }
    expect(report.by_type).toEqual(byType);
    expect(report.by_dimension).toEqual(byDimension);
    expect(verdicts[0]!.results[0]!.type).toBe(tax.get(SAMPLE[0]!.levels2[0]!)!.type);

    // one call per response (all its constraints at once), three for the failing one
    const { requests } = await fake.requests();
    expect(requests).toHaveLength(4 + 3);
    const sent = requests.map((r) => sentMaterial(r.body.messages[1]!.content));
    const forId0 = sent.find((m) => m.response === submissions[0]!.response)!;
    const prompt0 = renderPrompt((records[0] as { instruction: Instruction }).instruction);
    expect(prompt0).toContain('# Inputs:\n"Hotel California"');
    expect(forId0.instruction).toBe(prompt0);
    const forId200 = sent.find((m) => m.response === submissions[3]!.response)!;
    expect(forId200.constraints).toHaveLength(8);

    // scored again: the verdicts come from the D1 cache (the errored one is asked again)
    const again = await score({ LLM_BASE_URL: fake.baseUrl }, JSON.stringify(submissions), "", "application/json");
    const second = (await again.json()) as { report: Report };
    expect(second.report.overall).toEqual(report.overall);
    expect((await fake.requests()).requests).toHaveLength(7 + 3);
    // and with cache=bypass every response is judged afresh
    await score({ LLM_BASE_URL: fake.baseUrl }, ndjson(submissions.filter((s) => s.id !== "2")), "?cache=bypass");
    expect((await fake.requests()).requests).toHaveLength(10 + 4);
  });

  it("422s unknown and repeated ids, 413s oversized requests, 404s a missing set, 503s without a judge", async () => {
    await seedTrace();
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const unknown = await expectProblem(
      await score(
        vars,
        ndjson([
          { id: "0", response: "a" },
          { id: "99999", response: "b" },
        ]),
      ),
      422,
    );
    expect(unknown.errors![0]).toMatchObject({ line: 2, field: "id" });
    const repeated = await expectProblem(
      await score(
        vars,
        ndjson([
          { id: "0", response: "a" },
          { id: 0, response: "b" },
        ]),
      ),
      422,
    );
    expect(repeated.errors![0]).toMatchObject({ line: 2, field: "id" });
    await expectProblem(await score(vars, ndjson([{ id: "0" }])), 422);
    await expectProblem(await score(vars, ndjson(Array.from({ length: 51 }, (_, i) => ({ id: String(i), response: "x" })))), 413);
    const missing = await expectProblem(await score(vars, ndjson([{ id: "0", response: "a" }]), "?dataset=absent"), 404);
    expect(missing.detail).toContain("npm start");
    const noJudge = await expectProblem(await score({ LLM_PROVIDER: "" }, ndjson([{ id: "0", response: "a" }])), 503);
    expect(noJudge.detail).toMatch(/LLM_PROVIDER/);
    expect((await fake.requests()).requests).toHaveLength(0);
  });
});
