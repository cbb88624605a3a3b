import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { LIMITER_PERIOD_S } from "../../src/lib/rate-limits.ts";

// wrangler.toml read by wrangler itself, as `wrangler dev` and `wrangler deploy --env production` do.
const config = (env?: string) => unstable_readConfig({ config: join(import.meta.dirname, "../../wrangler.toml"), env });

describe("wrangler.toml", () => {
  it("requires a key for the judge in production and leaves local development open", () => {
    expect(config("production").vars.JUDGE_REQUIRES_KEY).toBe("true");
    expect(config().vars.JUDGE_REQUIRES_KEY).toBe("false");
  });

  it("binds the frozen-shards R2 bucket in every environment", () => {
    for (const env of [undefined, "production"]) {
      expect(
        config(env).r2_buckets.map((b: { binding: string }) => b.binding),
        env ?? "local",
      ).toContain("SHARDS");
    }
  });

  it("binds both rate limiters in every environment, with the periods the Worker sends as Retry-After", () => {
    for (const env of [undefined, "production"]) {
      const limiters = new Map<string, { period: number }>(
        config(env).ratelimits.map((r: { name: string; simple: { period: number } }) => [r.name, r.simple]),
      );
      for (const [name, period] of Object.entries(LIMITER_PERIOD_S)) {
        expect(limiters.get(name)?.period, `${name} in ${env ?? "local"}`).toBe(period);
      }
    }
  });
});
