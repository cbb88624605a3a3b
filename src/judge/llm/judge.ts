import { modelInputKey, type CacheEntry, type VerdictCache } from "./cache.ts";
import { checkerCatalog, type CatalogEntry } from "./catalog.ts";
import { COMPILE_PROMPT_VERSION, compileMessages, compileResponseSchema, parseCompile, type CompileDecision } from "./compile.ts";
import type { LlmConfig } from "./config.ts";
import { LlmError } from "./errors.ts";
import { judgeMessages, judgeResponseSchema, parseVerdicts, PROMPT_VERSION, type FreeTextConstraint, type RawVerdict } from "./prompt.ts";
import { estimatedTokens } from "./providers.ts";
import { createLimiter, withRetries, type Limiter, type Sleep } from "./retry.ts";
import type { ChatMessage, LlmProvider, ResponseSchema, TokenUsage } from "./types.ts";

export type CacheMode = "use" | "bypass";

/** One request's LLM judge: configuration, cache, and the concurrency cap shared by its calls. */
export interface LlmJudge {
  config: LlmConfig;
  cache: VerdictCache | null;
  limiter: Limiter;
  sleep?: Sleep;
  /** The checkers compile may choose from (defaults to the registry). */
  catalog?: () => CatalogEntry[];
  /** Called for cache failures (the judgement goes on without the cache). */
  onCacheError?: (error: unknown) => void;
  /** Sees every model call's tokens and every cache hit (a job sums them). */
  usage?: UsageObserver;
  /** Bounds the caller's spend: every attempt is reserved first and its tokens charged after. */
  spend?: SpendGuard;
  /** The caller's request: once aborted (the client went away), no further call is sent. */
  signal?: AbortSignal;
}

/**
 * What a caller may spend on model calls (src/lib/spend.ts keeps it in D1, per API key, client
 * address, and a ceiling on all anonymous callers together).
 */
export interface SpendGuard {
  /** Before every attempt: counts the call, or throws LlmError("budget") when a budget is spent (the call is not made). */
  reserve(): Promise<void>;
  /** After an attempt the provider answered: the tokens it cost. */
  charge(tokens: number): Promise<void>;
}

/** Observes the model calls: tokens of each attempt (failed ones cost tokens too) and cache hits. */
export interface UsageObserver {
  call(usage: TokenUsage | undefined, model: string): void;
  cacheHits(count: number): void;
}

export function createLlmJudge(
  config: LlmConfig,
  cache: VerdictCache | null,
  options: Partial<Pick<LlmJudge, "sleep" | "catalog" | "onCacheError" | "usage" | "spend" | "signal">> = {},
): LlmJudge {
  return { config, cache, limiter: createLimiter(config.settings.concurrency), ...options };
}

export type LlmVerdict =
  | {
      kind: "llm";
      status: "ok";
      passed: boolean;
      score: number;
      explanation: string;
      model: string;
      prompt_version: string;
      cached: boolean;
    }
  | { kind: "llm"; status: "error"; passed: null; reason: string; attempts?: number };

/** One judge call's answer as stored: a verdict per constraint asked, in order. */
interface CachedVerdicts {
  verdicts: RawVerdict[];
  model: string;
}

const isCachedVerdicts = (value: unknown, count: number): value is CachedVerdicts => {
  const v = value as CachedVerdicts | undefined;
  return (
    typeof v?.model === "string" &&
    Array.isArray(v.verdicts) &&
    v.verdicts.length === count &&
    v.verdicts.every((x) => Number.isInteger(x?.score) && x.score >= 0 && x.score <= 10 && typeof x.explanation === "string")
  );
};

const errorVerdict = (reason: string, attempts?: number): LlmVerdict =>
  attempts === undefined
    ? { kind: "llm", status: "error", passed: null, reason }
    : { kind: "llm", status: "error", passed: null, reason, attempts };

/**
 * One LLM call through the limiter, with timeout and retries; `parse` failures are retried too.
 * Every LLM call of the project goes through here (the judge, compile, CFBench, the pipelines), so
 * every attempt is charged to the caller's budget (`spend`) and none is sent once the caller's
 * request is aborted (`signal`, which also cuts the call in flight).
 */
export async function callModel<T>(
  judge: LlmJudge,
  provider: LlmProvider,
  messages: ChatMessage[],
  schema: ResponseSchema | undefined,
  parse: (content: string) => T,
): Promise<{ value: T; model: string }> {
  const s = judge.config.settings;
  const caller = judge.signal;
  const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
  return judge.limiter.run(() =>
    withRetries(
      async (timeout) => {
        if (caller?.aborted) throw new LlmError("cancelled", "the client went away before this call was sent", { retryable: false });
        await judge.spend?.reserve();
        const signal = caller ? AbortSignal.any([timeout, caller]) : timeout;
        const completion = await provider.complete({ messages, schema, maxTokens: s.maxTokens, signal });
        judge.usage?.call(completion.usage, completion.model);
        const usage = completion.usage;
        await judge.spend?.charge(
          usage ? usage.prompt_tokens + usage.completion_tokens : estimatedTokens(promptChars + completion.content.length),
        );
        return { value: parse(completion.content), model: completion.model };
      },
      { ...s, sleep: judge.sleep },
    ),
  );
}

export async function cacheGet(judge: LlmJudge, keys: string[], mode: CacheMode): Promise<Map<string, unknown>> {
  if (!judge.cache || mode === "bypass") return new Map();
  try {
    const hits = await judge.cache.get(keys);
    if (hits.size) judge.usage?.cacheHits(keys.filter((k) => hits.has(k)).length);
    return hits;
  } catch (error) {
    judge.onCacheError?.(error);
    return new Map();
  }
}

export async function cachePut(judge: LlmJudge, entries: CacheEntry[]) {
  if (!judge.cache || entries.length === 0) return;
  try {
    await judge.cache.put(entries);
  } catch (error) {
    judge.onCacheError?.(error);
  }
}

function describeFailure(error: unknown): { reason: string; attempts?: number } {
  if (error instanceof LlmError) {
    const tries = error.attempts > 1 ? ` (after ${error.attempts} attempts)` : "";
    return { reason: `${error.message}${tries}`, attempts: error.attempts };
  }
  return { reason: `the LLM judge failed: ${(error as Error)?.message ?? String(error)}` };
}

/**
 * Judges free-text constraints of one (instruction, response) with one LLM call for all of them,
 * cached under everything that call sends (`modelInputKey`): a verdict is reused only for the same
 * instruction, response and list of constraints, never for one constraint asked beside others.
 * Only a complete answer is cached. Returns one verdict per constraint, in order; never throws for
 * grader failures (a spent budget is no grader failure: its LlmError ends the request).
 */
export async function judgeFreeText(
  judge: LlmJudge,
  input: { instruction?: string; response: string; constraints: ReadonlyArray<FreeTextConstraint>; cache?: CacheMode; passScore?: number },
): Promise<LlmVerdict[]> {
  const { provider, unavailableReason } = judge.config;
  const count = input.constraints.length;
  if (count === 0) return [];
  if (!provider) return input.constraints.map(() => errorVerdict(unavailableReason ?? "no LLM judge is configured"));
  const passScore = input.passScore ?? judge.config.settings.passScore;
  const messages = judgeMessages(input.instruction, input.response, input.constraints);
  const schema = judgeResponseSchema(count);
  const key = await modelInputKey("verdict", provider, PROMPT_VERSION, messages, schema);
  const hit = (await cacheGet(judge, [key], input.cache ?? "use")).get(key);
  if (isCachedVerdicts(hit, count)) return hit.verdicts.map((v) => ok(v, hit.model, passScore, true));

  let verdicts: Map<number, RawVerdict>;
  let model = provider.model;
  let failure: { reason: string; attempts?: number } | undefined;
  try {
    const result = await callModel(judge, provider, messages, schema, (content) => parseVerdicts(content, count));
    verdicts = result.value;
    model = result.model;
  } catch (error) {
    if (error instanceof LlmError && error.endsRequest) throw error;
    failure = describeFailure(error);
    // after the last attempt, keep what an incomplete answer did say
    verdicts =
      error instanceof LlmError && error.options.partial instanceof Map ? (error.options.partial as Map<number, RawVerdict>) : new Map();
  }
  const out = input.constraints.map((_, i): LlmVerdict => {
    const v = verdicts.get(i);
    return v
      ? ok(v, model, passScore, false)
      : errorVerdict(failure?.reason ?? "the judge gave no verdict for this constraint", failure?.attempts);
  });
  if (!failure) {
    const stored: CachedVerdicts = { verdicts: input.constraints.map((_, i) => verdicts.get(i)!), model };
    await cachePut(judge, [
      { key, kind: "verdict", provider: provider.id, model: provider.model, promptVersion: PROMPT_VERSION, value: stored },
    ]);
  }
  return out;
}

function ok(v: RawVerdict, model: string, passScore: number, cached: boolean): LlmVerdict {
  return {
    kind: "llm",
    status: "ok",
    passed: v.score >= passScore,
    score: v.score,
    explanation: v.explanation,
    model,
    prompt_version: PROMPT_VERSION,
    cached,
  };
}

export type CompileOutcome =
  | {
      status: "compiled";
      id: string;
      kwargs: Record<string, unknown>;
      reason: string;
      model: string;
      prompt_version: string;
      cached: boolean;
    }
  | {
      status: "no-match" | "invalid";
      reason: string;
      proposed?: { id: string; kwargs: unknown };
      model: string;
      prompt_version: string;
      cached: boolean;
    }
  | { status: "error"; reason: string };

/** One compile call's answer as stored: a decision per constraint asked, in order. */
interface CachedCompile {
  decisions: CompileDecision[];
  model: string;
}

const isCachedCompile = (value: unknown, count: number): value is CachedCompile => {
  const v = value as CachedCompile | undefined;
  return (
    typeof v?.model === "string" &&
    Array.isArray(v.decisions) &&
    v.decisions.length === count &&
    v.decisions.every((d) => typeof d?.match === "boolean")
  );
};

/**
 * Compiles free-text constraints into registered checkers: one LLM call for all of them, cached
 * under everything that call sends (the catalog included, so adding checkers invalidates it): a
 * mapping is reused only for the same list of constraints. Never throws for compiler failures.
 */
export async function compileFreeText(
  judge: LlmJudge,
  input: { constraints: ReadonlyArray<FreeTextConstraint>; cache?: CacheMode },
): Promise<CompileOutcome[]> {
  const { provider, unavailableReason } = judge.config;
  const count = input.constraints.length;
  if (count === 0) return [];
  if (!provider) return input.constraints.map(() => ({ status: "error", reason: unavailableReason ?? "no LLM judge is configured" }));
  const messages = compileMessages(input.constraints, (judge.catalog ?? checkerCatalog)());
  const schema = compileResponseSchema(count);
  const key = await modelInputKey("compile", provider, COMPILE_PROMPT_VERSION, messages, schema);
  const hit = (await cacheGet(judge, [key], input.cache ?? "use")).get(key);
  if (isCachedCompile(hit, count)) return hit.decisions.map((d) => outcome(d, hit.model, true));

  let decisions: Map<number, CompileDecision>;
  let model = provider.model;
  let failure: { reason: string } | undefined;
  try {
    const result = await callModel(judge, provider, messages, schema, (content) => parseCompile(content, count));
    decisions = result.value;
    model = result.model;
  } catch (error) {
    if (error instanceof LlmError && error.endsRequest) throw error;
    failure = describeFailure(error);
    decisions =
      error instanceof LlmError && error.options.partial instanceof Map
        ? (error.options.partial as Map<number, CompileDecision>)
        : new Map();
  }
  const out = input.constraints.map((_, i): CompileOutcome => {
    const decision = decisions.get(i);
    return decision
      ? outcome(decision, model, false)
      : { status: "error", reason: failure?.reason ?? "the compiler gave no answer for this constraint" };
  });
  if (!failure) {
    const stored: CachedCompile = { decisions: input.constraints.map((_, i) => decisions.get(i)!), model };
    await cachePut(judge, [
      { key, kind: "compile", provider: provider.id, model: provider.model, promptVersion: COMPILE_PROMPT_VERSION, value: stored },
    ]);
  }
  return out;
}

function outcome(d: CompileDecision, model: string, cached: boolean): CompileOutcome {
  const base = { model, prompt_version: COMPILE_PROMPT_VERSION, cached };
  if (d.match) return { status: "compiled", id: d.id, kwargs: d.kwargs, reason: d.reason, ...base };
  return d.invalid
    ? { status: "invalid", reason: d.reason, proposed: d.invalid, ...base }
    : { status: "no-match", reason: d.reason, ...base };
}
