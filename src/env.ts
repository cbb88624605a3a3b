import type { AiBinding } from "./judge/llm/types";
import type { Principal } from "./lib/auth";

/** Bindings and variables of the Worker (wrangler.toml `[vars]`, secrets, D1). */
export interface Bindings {
  DB: D1Database;
  /** Worker secret: the first admin credential (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /** "true" (default): GET routes need no key; "false": every route needs a key with `read`. */
  PUBLIC_READS?: string;
  /** Largest accepted request body in bytes. */
  MAX_BODY_BYTES?: string;
  /** Comma-separated allowed CORS origins, or "*". */
  CORS_ORIGINS?: string;

  // --- the LLM judge (free-text constraints, compile, TRACE scoring); see README "LLM judge" ---
  /** "openai" (any OpenAI-compatible chat completions endpoint) or "workers-ai"; unset: no LLM judge. */
  LLM_PROVIDER?: string;
  /** For "openai": the API base, e.g. https://api.openai.com/v1 (`/chat/completions` is appended). */
  LLM_BASE_URL?: string;
  /** Model name (for "workers-ai" defaults to @cf/meta/llama-3.3-70b-instruct-fp8-fast). */
  LLM_MODEL?: string;
  /** Worker secret: the provider's API key (`wrangler secret put LLM_API_KEY`). */
  LLM_API_KEY?: string;
  /** "true" (default): ask for `response_format: {type: "json_schema"}`; "false": only parse and validate. */
  LLM_JSON_SCHEMA?: string;
  /** Per-attempt timeout in ms (default 60000). */
  LLM_TIMEOUT_MS?: string;
  /** Retries after the first attempt on 429/5xx, timeouts and malformed output (default 3). */
  LLM_MAX_RETRIES?: string;
  /** LLM calls in flight at once per API request (default 4). */
  LLM_CONCURRENCY?: string;
  /** Lowest 0-10 score that passes (default 10, TRACE's rule). */
  LLM_PASS_SCORE?: string;
  /** First backoff delay in ms, doubled per retry with jitter (default 500). */
  LLM_BACKOFF_MS?: string;
  /** Largest backoff delay in ms (default 8000). */
  LLM_BACKOFF_MAX_MS?: string;
  /** Longest Retry-After honoured, in ms; beyond it the judgement fails at once (default 30000). */
  LLM_RETRY_AFTER_MAX_MS?: string;
  /** max_tokens of each call (default 4096). */
  LLM_MAX_TOKENS?: string;
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
