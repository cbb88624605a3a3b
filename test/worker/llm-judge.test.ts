/**
 * The LLM judge through the API, in workerd, against the fake provider (test/fake-llm): every
 * test scripts its own fake session and points LLM_BASE_URL at it. No real model is called.
 */
import { describe, expect, it } from "vitest";
import { expectProblem, textOf } from "./helpers.ts";
import { callWith, fakeLlm, postWith, sentMaterial, unique, verdictJson } from "./llm-helpers.ts";

type LlmResult = {
  kind: string;
  decided_by: string;
  status: "ok" | "error";
  passed: boolean | null;
  text?: string;
  dimension?: string;
  id?: string;
  score?: number;
  explanation?: string;
  model?: string;
  prompt_version?: string;
  cached?: boolean;
  reason?: string;
  attempts?: number;
  evidence?: Record<string, unknown>;
  compiled?: { id: string; kwargs: Record<string, unknown>; cached: boolean };
  compile?: { status: string; reason: string };
};
type Verdict = { mode: string; followed_all: boolean; errors: number; results: LlmResult[] };

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

async function judge(vars: Record<string, unknown>, body: Record<string, unknown>): Promise<Verdict> {
  const res = await postWith(vars, "/v1/judge", body);
  const json = (await res.json()) as Verdict;
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

describe("free-text constraints", () => {
  it("judges all free-text constraints of an item in one call, beside the rule checkers", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: verdictJson([10, "warm throughout"], [6, "the sea is never mentioned"]) }]);
    const response = unique("A gentle note about friendship");
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl },
      {
        instruction: "Write a short note to a friend.",
        response,
        constraints: [
          { id: "punctuation:no_comma" },
          { text: "Use a warm tone", dimension: "Tone and Style Constraint" },
          { text: "Mention the sea" },
        ],
      },
    );
    expect(body.mode).toBe("strict");
    expect(body.followed_all).toBe(false);
    expect(body.errors).toBe(0);
    expect(body.results[0]).toMatchObject({ id: "punctuation:no_comma", kind: "rule", decided_by: "rule", status: "ok", passed: true });
    expect(body.results[1]).toEqual({
      text: "Use a warm tone",
      dimension: "Tone and Style Constraint",
      kind: "llm",
      decided_by: "llm",
      status: "ok",
      passed: true,
      score: 10,
      explanation: "warm throughout",
      model: "fake-judge-1",
      prompt_version: "trace-judge-v2",
      cached: false,
    });
    expect(body.results[2]).toMatchObject({
      text: "Mention the sea",
      status: "ok",
      passed: false,
      score: 6,
      explanation: "the sea is never mentioned",
    });

    const { requests } = await fake.requests();
    expect(requests).toHaveLength(1);
    const sent = requests[0]!;
    expect(sent.headers.authorization).toBe("Bearer sk-fake-test-key");
    expect(sent.body.model).toBe("fake-judge-1");
    expect(sent.body.temperature).toBe(0);
    expect(sent.body.response_format?.type).toBe("json_schema");
    expect(sent.body.response_format?.json_schema.strict).toBe(true);
    const schema = sent.body.response_format!.json_schema.schema as {
      properties: { verdicts: { items: { properties: { id: { enum: string[] } }; required: string[] } } };
    };
    expect(schema.properties.verdicts.items.properties.id.enum).toEqual(["C1", "C2"]);
    expect(schema.properties.verdicts.items.required).toEqual(["id", "explanation", "score"]);
    const user = sent.body.messages.find((m) => m.role === "user")!.content;
    expect(sentMaterial(user)).toEqual({
      instruction: "Write a short note to a friend.",
      response,
      constraints: [
        { id: "C1", text: "Use a warm tone", dimension: "Tone and Style Constraint" },
        { id: "C2", text: "Mention the sea", dimension: null },
      ],
    });
    expect(user).not.toContain("no_comma");
    // explanation before score, 0-10
    expect(sent.body.messages[0]!.content).toMatch(/explanation[\s\S]*score from 0 to 10/);
  });

  it("passes at the threshold: 10 by default, LLM_PASS_SCORE, or pass_score per request", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: verdictJson([9]) }, { json: verdictJson([7]) }, { json: verdictJson([6]) }, { json: verdictJson([5]) }]);
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const item = () => ({ response: unique("r"), constraints: [{ text: "Be concise" }] });
    expect((await judge(vars, item())).results[0]).toMatchObject({ score: 9, passed: false });
    expect((await judge({ ...vars, LLM_PASS_SCORE: "7" }, item())).results[0]).toMatchObject({ score: 7, passed: true });
    expect((await judge(vars, { ...item(), pass_score: 6 })).results[0]).toMatchObject({ score: 6, passed: true });
    const five = await judge(vars, { ...item(), pass_score: 6 });
    expect(five.results[0]).toMatchObject({ score: 5, passed: false });
    expect(five.followed_all).toBe(false);
  });

  it("without JSON-schema mode sends no response_format and still parses a fenced answer", async () => {
    const fake = fakeLlm();
    await fake.script([{ content: `Here you go:\n\`\`\`json\n${JSON.stringify(verdictJson([10, "fine"]))}\n\`\`\`` }]);
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl, LLM_JSON_SCHEMA: "false" },
      { response: unique("r"), constraints: [{ text: "Say hi" }] },
    );
    expect(body.results[0]).toMatchObject({ status: "ok", passed: true, explanation: "fine" });
    const { requests } = await fake.requests();
    expect(requests[0]!.body.response_format).toBeUndefined();
  });
});

describe("retries and failures", () => {
  it("retries malformed JSON, then uses the valid answer", async () => {
    const fake = fakeLlm();
    await fake.script([{ content: "I think it scores ten out of ten." }, { json: verdictJson([10]) }]);
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "Be polite" }] });
    expect(body.results[0]).toMatchObject({ status: "ok", passed: true, score: 10 });
    expect((await fake.requests()).requests).toHaveLength(2);
  });

  it("retries an answer that does not match the schema (a score of 11)", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: { verdicts: [{ id: "C1", explanation: "x", score: 11 }] } }, { json: verdictJson([8]) }]);
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "Be polite" }] });
    expect(body.results[0]).toMatchObject({ status: "ok", score: 8 });
    expect((await fake.requests()).requests).toHaveLength(2);
  });

  it("retries an answer missing a constraint, and after max retries reports that constraint as an error", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: verdictJson([10]), times: 3 }]); // C2 never judged
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl },
      { response: unique("r"), constraints: [{ text: "First" }, { text: "Second" }] },
    );
    expect((await fake.requests()).requests).toHaveLength(3); // 1 + LLM_MAX_RETRIES (2)
    expect(body.results[0]).toMatchObject({ status: "ok", passed: true });
    expect(body.results[1]).toMatchObject({ kind: "llm", status: "error", passed: null, attempts: 3 });
    expect(body.results[1]!.reason).toMatch(/no verdict for C2.*after 3 attempts/);
    expect(body.followed_all).toBe(false);
    expect(body.errors).toBe(1);

    // an incomplete answer followed by a complete one is simply recovered
    const again = fakeLlm();
    await again.script([{ json: verdictJson([10]) }, { json: verdictJson([10], [4]) }]);
    const recovered = await judge(
      { LLM_BASE_URL: again.baseUrl },
      { response: unique("r"), constraints: [{ text: "First" }, { text: "Second" }] },
    );
    expect(recovered.results.map((r) => [r.status, r.score])).toEqual([
      ["ok", 10],
      ["ok", 4],
    ]);
  });

  it("honours Retry-After on a 429, then succeeds", async () => {
    const fake = fakeLlm();
    await fake.script([{ status: 429, headers: { "retry-after": "1" } }, { json: verdictJson([10]) }]);
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "Be brief" }] });
    expect(body.results[0]).toMatchObject({ status: "ok", passed: true });
    const { requests } = await fake.requests();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950); // 1 s, far above the 10-40 ms backoff
  });

  it("does not wait for a Retry-After beyond LLM_RETRY_AFTER_MAX_MS", async () => {
    const fake = fakeLlm();
    await fake.script([{ status: 429, headers: { "retry-after": "120" } }, { json: verdictJson([10]) }]);
    const started = Date.now();
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "Be brief" }] });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(body.results[0]).toMatchObject({ status: "error", passed: null });
    expect(body.results[0]!.reason).toMatch(/HTTP 429.*retry after 120000 ms/);
    expect((await fake.requests()).requests).toHaveLength(1);
  });

  it("backs off exponentially between retries", async () => {
    const fake = fakeLlm();
    await fake.script([{ status: 503, times: 2 }, { json: verdictJson([10]) }]);
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl, LLM_BACKOFF_MS: "100", LLM_BACKOFF_MAX_MS: "1000" },
      { response: unique("r"), constraints: [{ text: "x" }] },
    );
    expect(body.results[0]).toMatchObject({ status: "ok" });
    const at = (await fake.requests()).requests.map((r) => r.at);
    expect(at).toHaveLength(3);
    // equal jitter: the first wait is 50-100 ms, the second 100-200 ms
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(45);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(95);
  });

  it("times out a slow answer and retries it; timing out every time is an error", async () => {
    const fake = fakeLlm();
    await fake.script([{ delay_ms: 1200, json: verdictJson([10]) }, { json: verdictJson([7]) }]);
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "x" }] });
    expect(body.results[0]).toMatchObject({ status: "ok", score: 7 }); // the second, timely answer
    expect((await fake.requests()).requests).toHaveLength(2);

    const slow = fakeLlm();
    await slow.script([], { delay_ms: 1000, json: verdictJson([10]) });
    const started = Date.now();
    const failed = await judge({ LLM_BASE_URL: slow.baseUrl }, { response: unique("r"), constraints: [{ text: "x" }] });
    expect(failed.results[0]).toMatchObject({ status: "error", passed: null, attempts: 3 });
    expect(failed.results[0]!.reason).toMatch(/did not answer within 400 ms/);
    expect(Date.now() - started).toBeLessThan(3000); // 3 × 400 ms plus backoff, not 3 × 1000 ms
    expect((await slow.requests()).requests).toHaveLength(3);
  });

  it("retries 500s; persistent 500s become an error naming the status", async () => {
    const fake = fakeLlm();
    await fake.script([{ status: 500 }, { json: verdictJson([10]) }]);
    expect((await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "x" }] })).results[0]).toMatchObject(
      { status: "ok" },
    );
    expect((await fake.requests()).requests).toHaveLength(2);

    const down = fakeLlm(); // no script: the fake answers 500 to everything
    const body = await judge({ LLM_BASE_URL: down.baseUrl }, { response: unique("r"), constraints: [{ text: "x" }] });
    expect(body.results[0]).toMatchObject({ status: "error", passed: null });
    expect(body.results[0]!.reason).toMatch(/HTTP 500.*after 3 attempts/);
    expect(body.followed_all).toBe(false);
    expect((await down.requests()).requests).toHaveLength(3);
  });

  it("does not retry a 401, and says what the provider said", async () => {
    const fake = fakeLlm();
    await fake.script([
      { status: 401, body: JSON.stringify({ error: { message: "Incorrect API key provided" } }) },
      { json: verdictJson([10]) },
    ]);
    const body = await judge({ LLM_BASE_URL: fake.baseUrl }, { response: unique("r"), constraints: [{ text: "x" }] });
    expect(body.results[0]).toMatchObject({ status: "error", passed: null });
    expect(body.results[0]!.reason).toMatch(/HTTP 401.*Incorrect API key/);
    expect((await fake.requests()).requests).toHaveLength(1);
  });

  it("an unreachable provider is an error, not a pass or a fail", async () => {
    const body = await judge(
      { LLM_BASE_URL: "http://127.0.0.1:9/v1", LLM_MAX_RETRIES: "0" },
      { response: unique("r"), constraints: [{ text: "x" }] },
    );
    expect(body.results[0]).toMatchObject({ status: "error", passed: null });
    expect(body.errors).toBe(1);
  });
});

describe("configuration", () => {
  it("without a provider, free-text constraints are errors saying what to set; rules are still decided", async () => {
    const body = await judge(
      { LLM_PROVIDER: undefined },
      { response: "hello world", constraints: [{ id: "punctuation:no_comma" }, { text: "Be friendly" }], compile: true },
    );
    expect(body.results[0]).toMatchObject({ decided_by: "rule", passed: true });
    expect(body.results[1]).toMatchObject({ kind: "llm", decided_by: "llm", status: "error", passed: null });
    expect(body.results[1]!.reason).toMatch(/no LLM judge is configured.*LLM_PROVIDER/);
    expect(body.results[1]!.compile?.status).toBe("error");
    expect(body.followed_all).toBe(false);
    expect(body.errors).toBe(1);

    const misconfigured = await judge(
      { LLM_BASE_URL: "", LLM_TIMEOUT_MS: "soon" },
      { response: "x", constraints: [{ text: "Be friendly" }] },
    );
    expect(misconfigured.results[0]!.reason).toMatch(/LLM_TIMEOUT_MS.*LLM_BASE_URL is required/);
  });

  it("LLM_PROVIDER=workers-ai calls the AI binding with the same prompt and schema", async () => {
    const calls: { model: string; inputs: Record<string, unknown> }[] = [];
    const answers: unknown[] = [{ response: "not json" }, { response: verdictJson([10, "via workers ai"]) }];
    const AI = {
      async run(model: string, inputs: Record<string, unknown>) {
        calls.push({ model, inputs });
        return answers.shift();
      },
    };
    const body = await judge(
      { LLM_PROVIDER: "workers-ai", LLM_MODEL: "@cf/test/judge", AI },
      { response: unique("r"), constraints: [{ text: "x" }] },
    );
    expect(body.results[0]).toMatchObject({ status: "ok", passed: true, explanation: "via workers ai", model: "@cf/test/judge" });
    expect(calls).toHaveLength(2); // the malformed first answer was retried
    expect(calls[0]!.model).toBe("@cf/test/judge");
    expect(calls[0]!.inputs).toMatchObject({
      temperature: 0,
      response_format: { type: "json_schema", json_schema: { required: ["verdicts"] } },
    });

    const failing = { run: async () => Promise.reject(new Error("3040: Capacity temporarily exceeded")) };
    const down = await judge({ LLM_PROVIDER: "workers-ai", AI: failing }, { response: unique("r"), constraints: [{ text: "x" }] });
    expect(down.results[0]).toMatchObject({ status: "error" });
    expect(down.results[0]!.reason).toMatch(/Capacity.*after 3 attempts/);

    const unbound = await judge({ LLM_PROVIDER: "workers-ai", AI: undefined }, { response: "x", constraints: [{ text: "x" }] });
    expect(unbound.results[0]!.reason).toMatch(/\[ai\] binding = "AI"/);
  });
});

describe("verdict cache (D1)", () => {
  it("answers a repeated judgement from D1 without a request; bypass asks again and overwrites", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: verdictJson([4, "first"]) }, { json: verdictJson([9, "second"]) }]);
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const item = {
      instruction: "Write a haiku.",
      response: unique("an old silent pond"),
      constraints: [{ text: "Follow 5-7-5", dimension: "Output Format Constraint" }],
    };

    const first = await judge(vars, item);
    expect(first.results[0]).toMatchObject({ score: 4, explanation: "first", cached: false });
    const second = await judge(vars, item);
    expect(second.results[0]).toMatchObject({ score: 4, explanation: "first", cached: true, passed: false });
    expect((await fake.requests()).requests).toHaveLength(1);

    const bypass = await judge(vars, { ...item, cache: "bypass" });
    expect(bypass.results[0]).toMatchObject({ score: 9, explanation: "second", cached: false });
    expect((await fake.requests()).requests).toHaveLength(2);
    const after = await judge(vars, item);
    expect(after.results[0]).toMatchObject({ score: 9, explanation: "second", cached: true });
    expect((await fake.requests()).requests).toHaveLength(2);
  });

  it("keys on instruction, response, constraints and model: a constraint is reused only beside the same constraints", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const base = { instruction: "Task", response: unique("r"), constraints: [{ text: "A" }] };
    await judge(vars, base);
    await judge(vars, { ...base, instruction: "Another task" });
    await judge(vars, { ...base, response: `${base.response}!` });
    await judge(vars, { ...base, constraints: [{ text: "A", dimension: "Theme Constraint" }] });
    await judge({ ...vars, LLM_MODEL: "fake-judge-2" }, base);
    expect((await fake.requests()).requests).toHaveLength(5);

    // "A" beside "B" is another model input: both are asked (see llm-security.test.ts for why)
    const mixed = await judge(vars, { ...base, constraints: [{ text: "A" }, { text: "B" }] });
    expect(mixed.results.map((r) => r.cached)).toEqual([false, false]);
    const { requests } = await fake.requests();
    expect(requests).toHaveLength(6);
    expect(sentMaterial(requests[5]!.body.messages[1]!.content).constraints.map((c) => c.text)).toEqual(["A", "B"]);
    expect((await judge(vars, { ...base, constraints: [{ text: "A" }, { text: "B" }] })).results.map((r) => r.cached)).toEqual([
      true,
      true,
    ]);
  });

  it("does not cache errors", async () => {
    const fake = fakeLlm();
    await fake.script([{ status: 500, times: 3 }, { json: verdictJson([10]) }]);
    const item = { response: unique("r"), constraints: [{ text: "x" }] };
    expect((await judge({ LLM_BASE_URL: fake.baseUrl }, item)).results[0]!.status).toBe("error");
    expect((await judge({ LLM_BASE_URL: fake.baseUrl }, item)).results[0]).toMatchObject({ status: "ok", cached: false });
    expect((await fake.requests()).requests).toHaveLength(4);
  });
});

describe("compile: free text into registered checkers", () => {
  const compiled = (...results: { checker: string | null; kwargs?: Record<string, unknown> | null; reason?: string }[]) => ({
    json: {
      results: results.map((r, i) => ({ id: `C${i + 1}`, checker: r.checker, kwargs: r.kwargs ?? null, reason: r.reason ?? "because" })),
    },
  });

  it("compiles 'fewer than 100 words' into length_constraints:number_words and checks it exactly (compilation cached)", async () => {
    const fake = fakeLlm();
    await fake.script([compiled({ checker: "length_constraints:number_words", kwargs: { relation: "less than", num_words: 100 } })]);
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const text = unique("Answer in fewer than 100 words.");
    const short = await judge(vars, { response: words(99), constraints: [{ text }], compile: true });
    expect(short.results[0]).toMatchObject({
      id: "length_constraints:number_words",
      kind: "rule",
      decided_by: "compiled-rule",
      status: "ok",
      text,
      passed: true,
      compiled: { id: "length_constraints:number_words", kwargs: { relation: "less than", num_words: 100 }, cached: false },
    });
    expect(JSON.stringify(short.results[0]!.evidence)).toContain("99");
    const { requests } = await fake.requests();
    expect(requests).toHaveLength(1); // the compilation only: no judging call
    expect(requests[0]!.body.messages[1]!.content).toMatch(
      /- length_constraints:number_words: .*\{num_words\}.*kwargs: \{num_words: integer >=0, relation: "less than"\|"at least"\}/,
    );
    expect(requests[0]!.body.response_format?.json_schema.name).toBe("constraint_checkers");

    const long = await judge(vars, { response: words(100), constraints: [{ text }], compile: true });
    expect(long.results[0]).toMatchObject({ decided_by: "compiled-rule", passed: false, compiled: { cached: true } });
    expect(long.followed_all).toBe(false);
    expect((await fake.requests()).requests).toHaveLength(1);
  });

  it("when no checker matches, the LLM judges the constraint", async () => {
    const fake = fakeLlm();
    await fake.script([
      compiled({ checker: null, reason: "tone cannot be checked by a program" }),
      { json: verdictJson([10, "cheerful"]) },
    ]);
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl },
      { response: unique("Great day!"), constraints: [{ text: unique("Sound cheerful") }], compile: true },
    );
    expect(body.results[0]).toMatchObject({
      decided_by: "llm",
      status: "ok",
      passed: true,
      compile: { status: "no-match", reason: "tone cannot be checked by a program" },
    });
    expect((await fake.requests()).requests).toHaveLength(2);
  });

  it("a proposal the registry rejects is not used: the LLM judges instead", async () => {
    const fake = fakeLlm();
    await fake.script([
      compiled(
        { checker: "length_constraints:number_words", kwargs: { relation: "fewer", num_words: 100 } },
        { checker: "no_such:checker", kwargs: {} },
      ),
      { json: verdictJson([3], [10]) },
    ]);
    const body = await judge(
      { LLM_BASE_URL: fake.baseUrl },
      { response: unique("r"), constraints: [{ text: unique("Short please") }, { text: unique("Other") }], compile: true },
    );
    expect(body.results.map((r) => [r.decided_by, r.compile?.status, r.score])).toEqual([
      ["llm", "invalid", 3],
      ["llm", "invalid", 10],
    ]);
    expect(body.results[0]!.compile!.reason).toMatch(/relation/);
  });
});

describe("hybrid routing", () => {
  it("decides rule, compiled-rule and LLM constraints of one item, strict and loose", async () => {
    const fake = fakeLlm();
    const fewer = unique("Answer in fewer than 50 words");
    const cheerful = unique("Sound cheerful");
    await fake.script([
      {
        json: {
          results: [
            { id: "C1", checker: "length_constraints:number_words", kwargs: { relation: "less than", num_words: 50 }, reason: "exact" },
            { id: "C2", checker: null, kwargs: null, reason: "tone" },
          ],
        },
      },
      { json: verdictJson([10, "cheerful"]) },
    ]);
    const res = await postWith({ LLM_BASE_URL: fake.baseUrl }, "/v1/judge", {
      instruction: "Greet the reader.",
      response: "Sure, here it is:\nhello and welcome friend",
      constraints: [{ id: "punctuation:no_comma" }, { text: fewer }, { text: cheerful, dimension: "Tone and Style Constraint" }],
      mode: "both",
      compile: true,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { mode: string; followed_all: boolean; errors: number; strict: Verdict; loose: Verdict };
    expect(body.mode).toBe("both");
    for (const v of [body.strict, body.loose]) {
      expect(v.results.map((r) => r.decided_by)).toEqual(["rule", "compiled-rule", "llm"]);
      expect(v.results[1]).toMatchObject({ text: fewer, passed: true, compiled: { id: "length_constraints:number_words" } });
      expect(v.results[2]).toMatchObject({ text: cheerful, dimension: "Tone and Style Constraint", passed: true, score: 10 });
    }
    expect(body.strict.results[0]!.passed).toBe(false); // the comma is on the first line
    expect(body.loose.results[0]!.passed).toBe(true); // loose drops it
    expect([body.followed_all, body.strict.followed_all, body.loose.followed_all]).toEqual([false, false, true]);
    expect(body.errors).toBe(0);

    const { requests } = await fake.requests();
    expect(requests).toHaveLength(2); // one compilation, one judgement, whatever the mode
    expect(requests[0]!.body.messages[1]!.content).toContain(fewer);
    expect(requests[1]!.body.messages[1]!.content).toContain(cheerful);
    expect(requests[1]!.body.messages[1]!.content).not.toContain(fewer);
  });

  it("422s invalid constraints before any model call, naming the field", async () => {
    const fake = fakeLlm();
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const unknown = await expectProblem(
      await postWith(vars, "/v1/judge", { response: "x", constraints: [{ text: "x" }, { id: "nope:nope" }] }),
      422,
    );
    expect(unknown.errors![0]!.field).toBe("body.constraints.1.id");
    const kwargs = await expectProblem(
      await postWith(vars, "/v1/judge", {
        response: "x",
        constraints: [{ text: "x" }, { id: "length_constraints:number_words", kwargs: { relation: "at least" } }],
      }),
      422,
    );
    expect(kwargs.errors!.map((e) => e.field)).toContain("body.constraints.1.kwargs.num_words");
    await expectProblem(await postWith(vars, "/v1/judge", { response: "x", constraints: [{ text: "" }] }), 422);
    await expectProblem(
      await postWith(vars, "/v1/judge", { response: "x", constraints: [{ text: "x", id: "punctuation:no_comma" }] }),
      422,
    );
    await expectProblem(await postWith(vars, "/v1/judge", { response: "x", constraints: [{ text: "x" }], cache: "sometimes" }), 422);
    expect((await fake.requests()).requests).toHaveLength(0);
  });
});

describe("batch", () => {
  it("judges a JSON batch with rule-only, free-text and bad items, at most LLM_CONCURRENCY calls at once", async () => {
    const fake = fakeLlm();
    await fake.script([], { delay_ms: 80, judge: { score: 10 } });
    const items = [
      ...Array.from({ length: 5 }, (_, i) => ({
        response: unique(`r${i}`),
        constraints: [{ text: "Be clear" }, { id: "punctuation:no_comma" }],
      })),
      { response: "a, b", constraints: [{ id: "punctuation:no_comma" }] },
      { response: 1 },
    ];
    const res = await postWith({ LLM_BASE_URL: fake.baseUrl, LLM_CONCURRENCY: "2" }, "/v1/judge/batch", { items });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: (Verdict & { index: number; error?: { status: number } })[] };
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const r of results.slice(0, 5))
      expect(r).toMatchObject({ followed_all: true, errors: 0, results: [{ decided_by: "llm", status: "ok" }, { decided_by: "rule" }] });
    expect(results[5]).toMatchObject({ followed_all: false });
    expect(results[6]).toMatchObject({ error: { status: 422 } });
    const log = await fake.requests();
    expect(log.requests).toHaveLength(5);
    expect(log.max_in_flight).toBe(2);
  });

  it("streams NDJSON results in order with LLM verdicts", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const lines = [
      { response: unique("ok [[fake:C1=10]]"), constraints: [{ text: "A" }] },
      { response: unique("bad [[fake:C1=2]]"), constraints: [{ text: "A" }] },
      { response: unique("down [[fake:http=503]]"), constraints: [{ text: "A" }] },
    ];
    const res = await callWith({ LLM_BASE_URL: fake.baseUrl }, "/v1/judge/batch", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: lines.map((l) => JSON.stringify(l)).join("\n"),
    });
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    const out = (await textOf(res))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Verdict & { line: number });
    expect(out.map((o) => o.line)).toEqual([1, 2, 3]);
    expect(out.map((o) => [o.followed_all, o.errors, o.results[0]!.status, o.results[0]!.passed])).toEqual([
      [true, 0, "ok", true],
      [false, 0, "ok", false],
      [false, 1, "error", null],
    ]);
  });

  it("refuses more than 100 items with free-text constraints per batch, before calling the model", async () => {
    const fake = fakeLlm();
    const items = Array.from({ length: 101 }, (_, i) => ({ response: `r${i}`, constraints: [{ text: "x" }] }));
    await expectProblem(await postWith({ LLM_BASE_URL: fake.baseUrl }, "/v1/judge/batch", { items }), 413);
    expect((await fake.requests()).requests).toHaveLength(0);
  });
});
