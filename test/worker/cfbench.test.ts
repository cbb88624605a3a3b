/**
 * POST /v1/benchmarks/cfbench/score end to end: CFBench-shaped items (written here; CFBench itself
 * is not shipped) judged by the fake provider in CFBench's answer format, scores checked by hand.
 */
import { describe, expect, it } from "vitest";
import { expectProblem } from "./helpers.ts";
import { callWith, fakeLlm, unique } from "./llm-helpers.ts";

const P = "主需";
const S = "次需";
const item = (idx: number, split: "easy" | "hard", criteria: [string, string][], response: string) => ({
  idx,
  prompt: unique(`Write a short note about tea (${idx})`),
  gold: "",
  split,
  criteria: criteria.map(([text, priority]) => [text, priority, "内容约束", "语义内容约束"]),
  response,
});

const ndjson = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join("\n");

function score(vars: Record<string, unknown>, body: string, query = "") {
  return callWith(vars, `/v1/benchmarks/cfbench/score${query}`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body,
  });
}

type Verdict = {
  idx: number;
  CSR: number;
  ISR: number;
  PSR: number;
  judge_parsing: string;
  judge_score: string[];
  cached: boolean;
  judge_error?: string;
};
type Report = Record<"easy" | "hard" | "full", { CSR: number | null; ISR: number | null; PSR: number | null; items: number }> & {
  usage: { calls: number; prompt_tokens: number; completion_tokens: number; cache_hits: number };
  judge_errors: number;
};

describe("CFBench scoring route", () => {
  it("judges every criterion 0/1 and scores CSR, ISR, PSR per split; a rerun is served from the cache", async () => {
    const fake = fakeLlm();
    await fake.script([], { cfbench: {} });
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const items = [
      // all met: CSR 1, ISR 1, PSR 1
      item(
        0,
        "easy",
        [
          ["mentions green tea", P],
          ["under 100 words", S],
        ],
        "Green tea is mild.",
      ),
      // secondary 1, 0, 1 -> round(0.67) -> 0.5 + 0.335 > 0.8: PSR 1; CSR 3/4
      item(
        1,
        "hard",
        [
          ["is about tea", P],
          ["has a title", S],
          ["uses a list [[fake:0]]", S],
          ["is polite", S],
        ],
        "Tea notes.",
      ),
      // a failed primary: PSR 0; CSR 0.5
      item(
        2,
        "hard",
        [
          ["written as a poem [[fake:0]]", P],
          ["mentions water", S],
        ],
        "Water and leaves.",
      ),
      // the judge never answers in the format: retried, then read leniently: nothing usable -> 0
      item(3, "easy", [["is about tea [[fake:garbled]]", P]], "Tea."),
    ];
    const res = await score(vars, ndjson(items));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { report: Report; verdicts: Verdict[] };
    const byIdx = new Map(body.verdicts.map((v) => [v.idx, v]));
    expect(byIdx.get(0)).toMatchObject({ CSR: 1, ISR: 1, PSR: 1, judge_parsing: "1", judge_score: ["1", "1"] });
    expect(byIdx.get(1)).toMatchObject({ CSR: 0.75, ISR: 0, PSR: 1, judge_parsing: "1" });
    expect(byIdx.get(2)).toMatchObject({ CSR: 0.5, ISR: 0, PSR: 0, judge_parsing: "1" });
    expect(byIdx.get(3)).toMatchObject({ CSR: 0, ISR: 0, PSR: 0, judge_parsing: "-1" });
    // easy: (1 + 0) / 2; hard: (0.75 + 0.5) / 2 = 0.625 -> numpy rounds half to even: 0.62
    expect(body.report.easy).toEqual({ CSR: 0.5, ISR: 0.5, PSR: 0.5, items: 2 });
    expect(body.report.hard).toEqual({ CSR: 0.62, ISR: 0, PSR: 0.5, items: 2 });
    expect(body.report.full).toEqual({ CSR: 0.56, ISR: 0.25, PSR: 0.5, items: 4 });
    // 3 good answers + 3 attempts (LLM_MAX_RETRIES=2) for the garbled one, each with the fake's usage
    const { requests } = await fake.requests();
    expect(requests).toHaveLength(6);
    expect(body.report.usage.calls).toBe(6);
    expect(body.report.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.report.usage.completion_tokens).toBeGreaterThan(0);
    // each prompt lists its item's checkpoints (requests arrive in any order: LLM_CONCURRENCY 2):
    // items of 2, 4 and 2 checkpoints, and the 1-checkpoint item asked three times
    const counts = requests.map((r) => Number(/<checkpoints count="(\d+)">/.exec(String(r.body.messages[1]!.content))?.[1]));
    expect(counts.sort()).toEqual([1, 1, 1, 2, 2, 4]);

    const again = (await (await score(vars, ndjson(items))).json()) as { report: Report; verdicts: Verdict[] };
    expect(again.report.full).toEqual(body.report.full);
    // the three parsed judgements come from D1; the unparseable one is asked again
    expect(
      again.verdicts
        .filter((v) => v.cached)
        .map((v) => v.idx)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(again.report.usage.cache_hits).toBe(3);
    expect((await fake.requests()).requests).toHaveLength(9);
  });

  it("answers 429 with Retry-After by waiting, and scores an unreachable judge as the reference's 'Error'", async () => {
    const fake = fakeLlm();
    await fake.script([
      { status: 429, headers: { "retry-after": "0" } },
      { cfbench: {} },
      { status: 500 },
      { status: 500 },
      { status: 500 },
    ]);
    const vars = { LLM_BASE_URL: fake.baseUrl, LLM_CONCURRENCY: "1" };
    const ok = (await (await score(vars, ndjson([item(0, "easy", [["is about tea", P]], "Tea.")]))).json()) as { verdicts: Verdict[] };
    expect(ok.verdicts[0]).toMatchObject({ CSR: 1, PSR: 1, judge_parsing: "1" });
    const down = (await (await score(vars, ndjson([item(1, "easy", [["is about coffee", P]], "Coffee.")]))).json()) as {
      report: Report;
      verdicts: Verdict[];
    };
    expect(down.verdicts[0]).toMatchObject({ CSR: 0, ISR: 0, PSR: 0, judge_parsing: "-1" });
    expect(down.verdicts[0]!.judge_error).toMatch(/HTTP 500/);
    expect(down.report.judge_errors).toBe(1);
  });

  it("names invalid items, refuses more than 50, and needs a provider", async () => {
    const bad = await score(
      {},
      ndjson([{ ...item(0, "easy", [["x", "必需"]], "r") }, { ...item(1, "medium" as "easy", [["x", P]], "r") }]),
    );
    const problem = await expectProblem(bad, 422);
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 1, field: "criteria.0.1" }),
        expect.objectContaining({ line: 2, field: "split" }),
      ]),
    );
    const many = Array.from({ length: 51 }, (_, i) => item(i, "easy", [["x", P]], "r"));
    await expectProblem(await score({}, ndjson(many)), 413);
    await expectProblem(await score({ LLM_PROVIDER: "" }, ndjson([item(0, "easy", [["x", P]], "r")])), 503);
    await expectProblem(await score({}, "{not json"), 400);
  });
});
