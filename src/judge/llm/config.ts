import { openAiCompatibleProvider, workersAiProvider } from "./providers.ts";
import type { AiBinding, LlmProvider } from "./types.ts";

/** The Worker variables that configure the LLM judge (wrangler.toml `[vars]`, secrets, .dev.vars). */
export interface LlmVars {
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
}

export interface LlmSettings {
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts after the first (so at most 1 + maxRetries calls per judgement). */
  maxRetries: number;
  /** LLM calls in flight at once, per API request. */
  concurrency: number;
  /** A constraint passes when its score (0-10) is at least this. */
  passScore: number;
  /** First backoff delay; doubled on every retry, with jitter, up to backoffMaxMs. */
  backoffMs: number;
  backoffMaxMs: number;
  /** A Retry-After longer than this is not waited for: the judgement fails at once. */
  retryAfterMaxMs: number;
  maxTokens: number;
}

export const DEFAULT_SETTINGS: LlmSettings = {
  timeoutMs: 60_000,
  maxRetries: 3,
  concurrency: 4,
  passScore: 10,
  backoffMs: 500,
  backoffMaxMs: 8_000,
  retryAfterMaxMs: 30_000,
  maxTokens: 4_096,
};

export const DEFAULT_WORKERS_AI_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast";

export interface LlmConfig {
  /** null when no provider is configured (or the configuration is invalid); see `unavailableReason`. */
  provider: LlmProvider | null;
  unavailableReason?: string;
  settings: LlmSettings;
}

function integer(vars: LlmVars, name: keyof LlmVars, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = vars[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
    return fallback;
  }
  return value;
}

/**
 * Reads the judge's configuration. Never throws: a missing or invalid setting makes the provider
 * null with a reason, so free-text constraints come back as `status: "error"` saying what to fix.
 */
export function llmConfigFromVars(vars: LlmVars, ai?: AiBinding, fetchImpl: typeof fetch = (...args) => fetch(...args)): LlmConfig {
  const problems: string[] = [];
  const settings: LlmSettings = {
    timeoutMs: integer(vars, "LLM_TIMEOUT_MS", DEFAULT_SETTINGS.timeoutMs, 1, 600_000, problems),
    maxRetries: integer(vars, "LLM_MAX_RETRIES", DEFAULT_SETTINGS.maxRetries, 0, 10, problems),
    concurrency: integer(vars, "LLM_CONCURRENCY", DEFAULT_SETTINGS.concurrency, 1, 64, problems),
    passScore: integer(vars, "LLM_PASS_SCORE", DEFAULT_SETTINGS.passScore, 0, 10, problems),
    backoffMs: integer(vars, "LLM_BACKOFF_MS", DEFAULT_SETTINGS.backoffMs, 0, 60_000, problems),
    backoffMaxMs: integer(vars, "LLM_BACKOFF_MAX_MS", DEFAULT_SETTINGS.backoffMaxMs, 0, 300_000, problems),
    retryAfterMaxMs: integer(vars, "LLM_RETRY_AFTER_MAX_MS", DEFAULT_SETTINGS.retryAfterMaxMs, 0, 600_000, problems),
    maxTokens: integer(vars, "LLM_MAX_TOKENS", DEFAULT_SETTINGS.maxTokens, 16, 200_000, problems),
  };
  const kind = (vars.LLM_PROVIDER ?? "").trim().toLowerCase();
  const unavailable = (reason: string): LlmConfig => ({ provider: null, unavailableReason: reason, settings });
  if (kind === "" || kind === "none") {
    return unavailable(
      'no LLM judge is configured: set LLM_PROVIDER ("openai" for any OpenAI-compatible endpoint, with LLM_BASE_URL, LLM_MODEL and the LLM_API_KEY secret; or "workers-ai" with an AI binding)',
    );
  }
  const jsonSchemaRaw = (vars.LLM_JSON_SCHEMA ?? "true").trim().toLowerCase();
  if (jsonSchemaRaw !== "true" && jsonSchemaRaw !== "false")
    problems.push(`LLM_JSON_SCHEMA must be "true" or "false" (got ${JSON.stringify(vars.LLM_JSON_SCHEMA)})`);
  const jsonSchema = jsonSchemaRaw !== "false";
  if (kind === "openai") {
    const baseUrl = (vars.LLM_BASE_URL ?? "").trim();
    const model = (vars.LLM_MODEL ?? "").trim();
    if (!baseUrl) problems.push("LLM_BASE_URL is required for LLM_PROVIDER=openai (e.g. https://api.openai.com/v1)");
    else if (!/^https?:\/\//i.test(baseUrl)) problems.push(`LLM_BASE_URL must be an http(s) URL (got ${JSON.stringify(baseUrl)})`);
    if (!model) problems.push("LLM_MODEL is required for LLM_PROVIDER=openai");
    if (problems.length) return unavailable(`the LLM judge is misconfigured: ${problems.join("; ")}`);
    return { provider: openAiCompatibleProvider({ baseUrl, model, apiKey: vars.LLM_API_KEY, jsonSchema, fetch: fetchImpl }), settings };
  }
  if (kind === "workers-ai") {
    if (!ai || typeof ai.run !== "function") {
      problems.push('LLM_PROVIDER=workers-ai needs the Workers AI binding: add `[ai] binding = "AI"` to wrangler.toml');
    }
    if (problems.length) return unavailable(`the LLM judge is misconfigured: ${problems.join("; ")}`);
    const model = (vars.LLM_MODEL ?? "").trim() || DEFAULT_WORKERS_AI_MODEL;
    return { provider: workersAiProvider({ binding: ai!, model, jsonSchema }), settings };
  }
  return unavailable(
    `the LLM judge is misconfigured: LLM_PROVIDER must be "openai" or "workers-ai" (got ${JSON.stringify(vars.LLM_PROVIDER)})`,
  );
}
