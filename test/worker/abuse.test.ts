import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.ts";
import { ADMIN, call, createKey, expectProblem, postJson } from "./helpers.ts";

// Each test throttles its own client address: the limiters count per CF-Connecting-IP.
let nextAddress = 1;
const freshAddress = () => `198.51.100.${nextAddress++}`;

/**
 * Sends `send()` until it answers 429 (at most 2 × limit + 1 times: the simulated windows are
 * aligned to the clock, so one rollover may reset the count once) and returns how many answered
 * first and the 429 itself.
 */
async function untilThrottled(limit: number, send: () => Promise<Response>): Promise<{ before: number; throttled: Response }> {
  for (let i = 0; i <= 2 * limit; i++) {
    const res = await send();
    if (res.status === 429) return { before: i, throttled: res };
    await res.arrayBuffer();
  }
  throw new Error(`no 429 after ${2 * limit + 1} requests`);
}

describe("rate limits (Cloudflare's rate-limiting binding, per client address)", () => {
  it("throttles failed authentications: 429 with Retry-After and a problem body", async () => {
    const ip = freshAddress();
    const { before, throttled } = await untilThrottled(10, () =>
      call("/v1/keys", { headers: { authorization: "Bearer iopo_wrong", "cf-connecting-ip": ip } }),
    );
    expect(before).toBeGreaterThanOrEqual(10);
    expect(throttled.headers.get("retry-after")).toBe("60");
    const problem = await expectProblem(throttled, 429);
    expect(problem.type).toBe("/docs#problem-too-many-requests");
    // a malformed header counts as a failure too; the right key still works from that address
    expect((await call("/v1/keys", { headers: { authorization: "Basic x", "cf-connecting-ip": ip } })).status).toBe(429);
    expect((await call("/v1/keys", { headers: { ...ADMIN, "cf-connecting-ip": ip } })).status).toBe(200);
    // another address is not affected
    await expectProblem(
      await call("/v1/keys", { headers: { authorization: "Bearer iopo_wrong", "cf-connecting-ip": freshAddress() } }),
      401,
    );
  });

  it("throttles anonymous use, but not a caller with a key, nor health checks", async () => {
    const ip = freshAddress();
    const { before, throttled } = await untilThrottled(600, () => call("/v1/nothing-here", { headers: { "cf-connecting-ip": ip } }));
    expect(before).toBeGreaterThanOrEqual(600);
    expect(throttled.headers.get("retry-after")).toBe("60");
    await expectProblem(throttled, 429);
    expect((await call("/v1/health", { headers: { "cf-connecting-ip": ip } })).status).toBe(200);
    expect((await call("/v1/taxonomy", { headers: { ...ADMIN, "cf-connecting-ip": ip } })).status).toBe(200);
    expect((await call("/v1/taxonomy", { headers: { "cf-connecting-ip": ip } })).status).toBe(429);
  });
});

describe("keys for the judge", () => {
  // The production configuration (JUDGE_REQUIRES_KEY = "true", wrangler.toml [env.production]).
  const production = buildApp();
  const callProduction = (path: string, init: RequestInit = {}) =>
    production.fetch(new Request(`http://iopo.test${path}`, init), { ...env, JUDGE_REQUIRES_KEY: "true" });
  const judgeBody = JSON.stringify({ response: "Hello.", constraints: [{ id: "punctuation:no_comma" }] });
  const post = (path: string, headers: Record<string, string> = {}) =>
    callProduction(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: judgeBody });

  it("needs a key with `judge` (or `read`) for the judge and benchmark routes in production", async () => {
    const anonymous = await post("/v1/judge");
    expect(anonymous.headers.get("www-authenticate")).toContain("Bearer");
    expect((await expectProblem(anonymous, 401)).detail).toContain("`judge`");
    await expectProblem(await post("/v1/judge/batch"), 401);
    await expectProblem(await post("/v1/benchmarks/ifeval/score"), 401);
    const judgeKey = await createKey(["judge"]);
    const readKey = await createKey(["read"]);
    for (const key of [judgeKey.key, readKey.key]) {
      expect((await post("/v1/judge", { authorization: `Bearer ${key}` })).status).toBe(200);
    }
    // `judge` grants nothing else: no dataset writes
    const write = await callProduction("/v1/datasets", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${judgeKey.key}` },
      body: JSON.stringify({ name: "judge-key-cannot-write" }),
    });
    await expectProblem(write, 403);
  });

  it("leaves the judge open in local development (JUDGE_REQUIRES_KEY unset or false)", async () => {
    expect((await postJson("/v1/judge", JSON.parse(judgeBody) as unknown)).status).toBe(200);
  });

  it("issues keys with the judge scope", async () => {
    const res = await postJson("/v1/keys", { name: "grader", scopes: ["judge"] }, ADMIN);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { scopes: string[] }).scopes).toEqual(["judge"]);
  });
});
