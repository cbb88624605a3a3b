import type { LlmVars } from "./judge/llm/config.ts";
import type { AiBinding } from "./judge/llm/types.ts";
import type { Principal } from "./lib/principal.ts";

/** Bindings and variables of the Worker (wrangler.toml `[vars]`, secrets, D1). */
export interface Bindings extends LlmVars {
  DB: D1Database;
  /** R2 bucket of frozen shard bodies, content-addressed by SHA-256 (src/datasets/store/shards.ts). */
  SHARDS: R2Bucket;
  /** Worker secret: the first admin credential (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /** "true" (default): GET routes need no key; "false": every route needs a key with `read`. */
  PUBLIC_READS?: string;
  /** Largest accepted request body in bytes. */
  MAX_BODY_BYTES?: string;
  /** Comma-separated allowed CORS origins, or "*". */
  CORS_ORIGINS?: string;
  /** "true" (production): the judge and benchmark routes need a key with `judge` (or `read`). */
  JUDGE_REQUIRES_KEY?: string;
  /** Rate limiters (wrangler.toml `[[ratelimits]]`), keyed by client IP: failed authentications... */
  AUTH_FAILURE_LIMITER?: RateLimit;
  /** ...and anonymous requests (health and the reference pages excepted); keyed by key id: every keyed request. */
  ANONYMOUS_LIMITER?: RateLimit;
  KEY_LIMITER?: RateLimit;
  /** Model-call budgets (JSON, see src/lib/spend.ts): per API key, per anonymous address, all anonymous callers. */
  LLM_BUDGET_KEY?: string;
  LLM_BUDGET_ADDRESS?: string;
  LLM_BUDGET_ANONYMOUS?: string;

  /** The job queue (wrangler.toml `[[queues.producers]]`); absent: jobs are driven by `POST .../run`. */
  JOB_QUEUE?: Queue<unknown>;
  /** Model calls in flight across all jobs' steps together (default 8), shared by key then by job (src/datasets/job-share.ts). */
  JOB_LLM_CONCURRENCY?: string;
  /** How long a job runner's lease lasts between heartbeats, in ms (default 60000). */
  JOB_LEASE_MS?: string;
  /** "true": a fresh isolate re-enqueues every unfinished job once (local dev, whose queues die with it; see wrangler.toml). */
  JOB_REQUEUE_ON_START?: string;
  /** D1 and R2 calls one step of freezing a version makes at most (default 500; see src/datasets/frozen-versions.ts). */
  FREEZE_STEP_CALLS?: string;

  // the LLM judge's LLM_* variables (documented in LlmVars; see README "LLM judge")
  /** Workers AI binding (`[ai] binding = "AI"` in wrangler.toml), for LLM_PROVIDER=workers-ai. */
  AI?: AiBinding;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    principal: Principal;
    requestId: string;
  };
}
