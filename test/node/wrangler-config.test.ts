import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { JOB_QUEUE_CONFIG } from "../../src/datasets/job-queue-config.ts";
import { LIMITER_PERIOD_S } from "../../src/lib/rate-limits.ts";

// wrangler.toml read by wrangler itself, as `wrangler dev` and `wrangler deploy --env production` do.
const config = (env?: string) => unstable_readConfig({ config: join(import.meta.dirname, "../../wrangler.toml"), env });

describe("wrangler.toml", () => {
  it("requires a key for the judge in production and leaves local development open", () => {
    expect(config("production").vars.JUDGE_REQUIRES_KEY).toBe("true");
    expect(config().vars.JUDGE_REQUIRES_KEY).toBe("false");
  });

  it("re-enqueues unfinished jobs on isolate start only locally; production sweeps stalled jobs by cron", () => {
    expect(config().vars.JOB_REQUEUE_ON_START).toBe("true");
    expect(config("production").vars.JOB_REQUEUE_ON_START).toBeUndefined();
    expect(config("production").triggers.crons).toEqual(["*/5 * * * *"]);
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

  it("binds the job queue and its dead-letter queue in every environment, as the Worker's JOB_QUEUE_CONFIG says", () => {
    for (const env of [undefined, "production"]) {
      const { queues } = config(env);
      expect(queues.producers, env).toEqual([expect.objectContaining({ binding: "JOB_QUEUE", queue: JOB_QUEUE_CONFIG.name })]);
      const consumers = new Map(queues.consumers.map((q: { queue: string }) => [q.queue, q]));
      expect(consumers.get(JOB_QUEUE_CONFIG.name), env).toMatchObject({
        max_batch_size: 1,
        max_retries: JOB_QUEUE_CONFIG.maxRetries,
        max_concurrency: JOB_QUEUE_CONFIG.maxConcurrency,
        dead_letter_queue: JOB_QUEUE_CONFIG.deadLetter,
      });
      expect(consumers.has(JOB_QUEUE_CONFIG.deadLetter), env).toBe(true);
    }
  });
});
