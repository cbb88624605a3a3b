/**
 * Spend on the LLM paths is bounded and accounted per caller (issue 19, finding 4; usage values of
 * finding 7): budgets per key (an admin's limits in D1), per anonymous address and for all
 * anonymous callers, kept in the real local D1; Cloudflare's rate-limiting binding per key; the
 * work budget counting what is sent to the model; a client that goes away stops the calls not yet
 * sent. Day budgets are used where a test counts, so a minute turning over cannot make it flaky.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, createKey, expectProblem, textOf } from "./helpers.ts";
import { callWith, fakeLlm, postWith, unique } from "./llm-helpers.ts";

type Spend = {
  subject: string;
  budget: Record<string, number>;
  used: { minute: { calls: number; tokens: number }; day: { calls: number; tokens: number } };
  remaining: Record<string, number>;
};
type Me = { kind: string; key_id: string | null; spend: Spend[] };

const freeText = () => ({ response: unique("An answer"), constraints: [{ text: unique("Be brief") }] });

async function me(vars: Record<string, unknown>, headers: Record<string, string>): Promise<Me> {
  const res = await callWith(vars, "/v1/keys/me", { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as Me;
}

async function setBudget(keyId: string, limits: Record<string, number | null>) {
  const res = await callWith({}, `/v1/keys/${keyId}/budget`, {
    method: "PUT",
    headers: { ...ADMIN, "content-type": "application/json" },
    body: JSON.stringify(limits),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Spend;
}

describe("budgets per key", () => {
  it("an admin's per-key limit stops model calls at the limit with a 429 naming the budget; /v1/keys/me shows it", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const { id, key } = await createKey(["judge"], "budgeted");
    const auth = { authorization: `Bearer ${key}` };
    const set = await setBudget(id, { calls_per_day: 2 });
    expect(set).toMatchObject({ subject: `key:${id}`, budget: { calls_per_day: 2 }, remaining: { calls_per_day: 2 } });

    const item = freeText();
    expect((await postWith(vars, "/v1/judge", item, auth)).status).toBe(200);
    // bypassing the cache is another model call, and counts
    expect((await postWith(vars, "/v1/judge", { ...item, cache: "bypass" }, auth)).status).toBe(200);
    const refused = await postWith(vars, "/v1/judge", freeText(), auth);
    const problem = (await expectProblem(refused, 429)) as unknown as { detail: string; budget: Spend & { period: string } };
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(problem.detail).toMatch(/budget of this API key is spent for this day/);
    expect(problem.budget).toMatchObject({
      subject: `key:${id}`,
      period: "day",
      budget: { calls_per_day: 2 },
      remaining: { calls_per_day: 0 },
    });
    expect((await fake.requests()).requests).toHaveLength(2);

    // a batch is refused as a whole once the budget is spent: no item reaches the model
    const batch = await postWith(vars, "/v1/judge/batch", { items: [freeText(), freeText(), freeText()] }, auth);
    await expectProblem(batch, 429);
    // a streamed NDJSON batch has sent its 200: each item still to judge says it was refused
    const streamed = await callWith(vars, "/v1/judge/batch", {
      method: "POST",
      headers: { ...auth, "content-type": "application/x-ndjson" },
      body: [freeText(), { response: "a, b", constraints: [{ id: "punctuation:no_comma" }] }].map((i) => JSON.stringify(i)).join("\n"),
    });
    const lines = (await textOf(streamed))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { error?: { status: number }; followed_all?: boolean });
    expect(lines.map((l) => l.error?.status ?? l.followed_all)).toEqual([429, false]);
    expect((await fake.requests()).requests).toHaveLength(2);

    const mine = await me(vars, auth);
    expect(mine).toMatchObject({ kind: "key", key_id: id });
    expect(mine.spend).toHaveLength(1);
    expect(mine.spend[0]).toMatchObject({ subject: `key:${id}`, used: { day: { calls: 2 } }, remaining: { calls_per_day: 0 } });
    expect(mine.spend[0]!.used.day.tokens).toBeGreaterThan(0);

    // another key is unaffected; null returns the key to the default
    const other = await createKey(["judge"], "unbudgeted");
    expect((await postWith(vars, "/v1/judge", freeText(), { authorization: `Bearer ${other.key}` })).status).toBe(200);
    expect((await setBudget(id, { calls_per_day: null })).budget.calls_per_day).toBe(20_000);
    expect((await postWith(vars, "/v1/judge", freeText(), auth)).status).toBe(200);
  });

  it("tokens count: a token budget spent refuses the next call; usage a provider misreports is validated before it is summed", async () => {
    const fake = fakeLlm();
    // a provider reporting absurd usage: 1e308 prompt tokens, a negative completion count
    await fake.script([], { judge: { score: 10 }, usage: { prompt_tokens: 1e308, completion_tokens: -5 } });
    const vars = { LLM_BASE_URL: fake.baseUrl };
    const { id, key } = await createKey(["judge"], "token budget");
    const auth = { authorization: `Bearer ${key}` };
    await setBudget(id, { tokens_per_minute: 100_000_000, tokens_per_day: 20_000_000 });

    expect((await postWith(vars, "/v1/judge", freeText(), auth)).status).toBe(200);
    const used = (await me(vars, auth)).spend[0]!.used.day.tokens;
    // capped at 10M per field, the negative count estimated from the answer's length: a finite integer
    expect(Number.isSafeInteger(used)).toBe(true);
    expect(used).toBeGreaterThan(10_000_000);
    expect(used).toBeLessThan(10_001_000);
    expect((await postWith(vars, "/v1/judge", freeText(), auth)).status).toBe(200);
    await expectProblem(await postWith(vars, "/v1/judge", freeText(), auth), 429);
    expect((await fake.requests()).requests).toHaveLength(2);

    // the same validated figures are what a report sums
    await fake.script([{ cfbench: {}, usage: { prompt_tokens: 1e308, completion_tokens: -5 } }]);
    const cf = await callWith(vars, "/v1/benchmarks/cfbench/score", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", ...ADMIN },
      body: JSON.stringify({ idx: 1, prompt: unique("p"), gold: "", split: "easy", criteria: [["c", "主需", "t", "d"]], response: "r" }),
    });
    expect(cf.status, await cf.clone().text()).toBe(200);
    const { report } = (await cf.json()) as { report: { usage: { prompt_tokens: number; completion_tokens: number } } };
    expect(report.usage.prompt_tokens).toBe(10_000_000);
    expect(Number.isSafeInteger(report.usage.completion_tokens)).toBe(true);
  });

  it("keyed callers are rate limited per key by Cloudflare's binding", async () => {
    const a = await createKey(["read"], "throttled");
    const b = await createKey(["read"], "neighbour");
    const vars = { KEY_LIMITER: env.TEST_KEY_LIMITER }; // 3 a minute
    const get = (key: string) => callWith(vars, "/v1/keys/me", { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 3; i++) expect((await get(a.key)).status).toBe(200);
    const limited = await get(a.key);
    expect((await expectProblem(limited, 429)).detail).toMatch(/requests with this API key/);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await get(b.key)).status).toBe(200);
  });
});

describe("budgets for anonymous callers", () => {
  it("each address has its own budget, and all anonymous callers share a ceiling", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const from = (address: string) => ({ "cf-connecting-ip": address });
    const base = { LLM_BASE_URL: fake.baseUrl, LLM_BUDGET_ADDRESS: JSON.stringify({ calls_per_day: 1 }) };

    expect((await postWith(base, "/v1/judge", freeText(), from("203.0.113.7"))).status).toBe(200);
    const refused = await postWith(base, "/v1/judge", freeText(), from("203.0.113.7"));
    const problem = (await expectProblem(refused, 429)) as unknown as { budget: { subject: string } };
    expect(problem.budget.subject).toBe("address:203.0.113.7");
    expect((await postWith(base, "/v1/judge", freeText(), from("203.0.113.8"))).status).toBe(200);

    // the ceiling: set just above what all anonymous callers of this test file have spent today
    const status = await me(base, from("203.0.113.9"));
    expect(status.spend.map((s) => s.subject)).toEqual(["address:203.0.113.9", "anonymous"]);
    const ceiling = { ...base, LLM_BUDGET_ANONYMOUS: JSON.stringify({ calls_per_day: status.spend[1]!.used.day.calls + 1 }) };
    expect((await postWith(ceiling, "/v1/judge", freeText(), from("203.0.113.9"))).status).toBe(200);
    const capped = await postWith(ceiling, "/v1/judge", freeText(), from("203.0.113.10"));
    expect(((await expectProblem(capped, 429)) as unknown as { budget: { subject: string } }).budget.subject).toBe("anonymous");
    // a refused call is taken back: the refused address has spent nothing
    expect((await me(ceiling, from("203.0.113.10"))).spend[0]!.used.day.calls).toBe(0);
    expect((await fake.requests()).requests).toHaveLength(3);
  });
});

describe("what a request may cost", () => {
  it("the work budget counts instruction and constraint lengths: 100 items with 90K-character instructions are refused before any call", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 } });
    const instruction = "x".repeat(90_000);
    const items = Array.from({ length: 100 }, (_, i) => ({ instruction, response: `r${i}`, constraints: [{ text: "Be brief" }] }));
    const res = await postWith({ LLM_BASE_URL: fake.baseUrl }, "/v1/judge/batch", { items });
    expect((await expectProblem(res, 413)).detail).toMatch(/character-checks/);
    expect((await fake.requests()).requests).toHaveLength(0);
  });

  it("a client that goes away stops the model calls not yet sent", async () => {
    const fake = fakeLlm();
    await fake.script([], { judge: { score: 10 }, delay_ms: 250 });
    const controller = new AbortController();
    const items = Array.from({ length: 6 }, () => freeText());
    const answered = callWith({ LLM_BASE_URL: fake.baseUrl, LLM_TIMEOUT_MS: "2000" }, "/v1/judge/batch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items }),
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 100)); // LLM_CONCURRENCY (2) calls are in flight
    controller.abort();
    await answered.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 400));
    expect((await fake.requests()).requests).toHaveLength(2);
  });
});
