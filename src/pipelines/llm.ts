import type { z } from "zod";
import {
  cacheGet,
  cachePut,
  callModel,
  createLlmJudge,
  extractJson,
  LlmError,
  modelInputKey,
  type CacheMode,
  type ChatMessage,
  type LlmJudge,
  type ResponseSchema,
  type TokenUsage,
  type UsageObserver,
} from "../judge/llm/index.ts";

/**
 * One schema-validated model output for the pipelines and CFBench, on the LLM judge's own
 * machinery: `callModel` (limiter, timeout, retries on 429/5xx/timeouts/malformed output) and the
 * D1 `llm_cache` (kind "generation"), keyed by provider, model, prompt version and the messages, so
 * re-running finished work makes no model call. Throws LlmError when no provider is configured or
 * the retries are spent; callers treat that as "try again later", never as a verdict.
 */
export interface Generated<T> {
  value: T;
  model: string;
  prompt_version: string;
  cached: boolean;
}

/** The model's text as it answered (parsed again on a hit, so a stricter parser re-checks it). */
interface CachedGeneration {
  content: string;
  model: string;
}

export async function generate<T>(
  judge: LlmJudge,
  spec: { promptVersion: string; messages: ChatMessage[]; schema?: ResponseSchema; parse: (content: string) => T; cache?: CacheMode },
): Promise<Generated<T>> {
  const { provider, unavailableReason } = judge.config;
  if (!provider) throw new LlmError("unavailable", unavailableReason ?? "no LLM provider is configured", { retryable: false });
  const key = await modelInputKey("generation", provider, spec.promptVersion, spec.messages, spec.schema);
  const hit = (await cacheGet(judge, [key], spec.cache ?? "use")).get(key) as CachedGeneration | undefined;
  if (hit && typeof hit.model === "string" && typeof hit.content === "string") {
    try {
      return { value: spec.parse(hit.content), model: hit.model, prompt_version: spec.promptVersion, cached: true };
    } catch {
      // a cached value the parser no longer accepts is a miss
    }
  }
  const result = await callModel(judge, provider, spec.messages, spec.schema, (content) => ({ parsed: spec.parse(content), content }));
  const stored: CachedGeneration = { content: result.value.content, model: result.model };
  await cachePut(judge, [
    { key, kind: "generation", provider: provider.id, model: provider.model, promptVersion: spec.promptVersion, value: stored },
  ]);
  return { value: result.value.parsed, model: result.model, prompt_version: spec.promptVersion, cached: false };
}

/** A parser for a JSON answer: the model's text as JSON, validated by `schema`, else a retryable malformed answer. */
export function jsonAnswer<S extends z.ZodType>(schema: S, what: string): (content: string) => z.infer<S> {
  return (content) => {
    const parsed = schema.safeParse(extractJson(content));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new LlmError(
        "malformed",
        `the ${what} answer does not match its schema: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      );
    }
    return parsed.data;
  };
}

/** A JSON Schema object in OpenAI's strict mode: every property required, nothing else allowed. */
export const strictObject = (properties: Record<string, unknown>): Record<string, unknown> => ({
  type: "object",
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

export interface UsageTotals {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cache_hits: number;
}

export const emptyUsage = (): UsageTotals => ({ calls: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cache_hits: 0 });

/** Sums a request's calls in memory (CFBench scoring reports them with its answer). */
export function usageMeter(): UsageObserver & { totals: UsageTotals } {
  const totals = emptyUsage();
  return {
    totals,
    call(usage: TokenUsage | undefined) {
      totals.calls++;
      totals.prompt_tokens += usage?.prompt_tokens ?? 0;
      totals.completion_tokens += usage?.completion_tokens ?? 0;
      totals.total_tokens = totals.prompt_tokens + totals.completion_tokens;
    },
    cacheHits(count: number) {
      totals.cache_hits += count;
    },
  };
}

/** The same judge (configuration, cache, spend, caller) with its own limiter, reporting its calls to `usage`. */
export const withUsage = (judge: LlmJudge, usage: UsageObserver): LlmJudge =>
  createLlmJudge(judge.config, judge.cache, {
    onCacheError: judge.onCacheError,
    sleep: judge.sleep,
    catalog: judge.catalog,
    spend: judge.spend,
    signal: judge.signal,
    usage,
  });
