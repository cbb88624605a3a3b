import { cacheKey, type CacheEntry, type VerdictCache } from "./cache.ts";
import { checkerCatalog, type CatalogEntry } from "./catalog.ts";
import { COMPILE_PROMPT_VERSION, compileMessages, compileResponseSchema, parseCompile, type CompileDecision } from "./compile.ts";
import type { LlmConfig } from "./config.ts";
import { LlmError } from "./errors.ts";
import { judgeMessages, judgeResponseSchema, parseVerdicts, PROMPT_VERSION, type FreeTextConstraint, type RawVerdict } from "./prompt.ts";
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
}

/** Observes the model calls: tokens of each attempt (failed ones cost tokens too) and cache hits. */
export interface UsageObserver {
  call(usage: TokenUsage | undefined, model: string): void;
  cacheHits(count: number): void;
}

export function createLlmJudge(
  config: LlmConfig,
  cache: VerdictCache | null,
  options: Partial<Pick<LlmJudge, "sleep" | "catalog" | "onCacheError" | "usage">> = {},
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

interface CachedVerdict {
  score: number;
  explanation: string;
  model: string;
}

const errorVerdict = (reason: string, attempts?: number): LlmVerdict =>
  attempts === undefined
    ? { kind: "llm", status: "error", passed: null, reason }
    : { kind: "llm", status: "error", passed: null, reason, attempts };

/**
 * One LLM call through the limiter, with timeout and retries; `parse` failures are retried too.
 * Every LLM call of the project goes through here (the judge, compile, CFBench, the pipelines).
 */
export async function callModel<T>(
  judge: LlmJudge,
  provider: LlmProvider,
  messages: ChatMessage[],
  schema: ResponseSchema | undefined,
  parse: (content: string) => T,
): Promise<{ value: T; model: string }> {
  const s = judge.config.settings;
  return judge.limiter.run(() =>
    withRetries(
      async (signal) => {
        const completion = await provider.complete({ messages, schema, maxTokens: s.maxTokens, signal });
        judge.usage?.call(completion.usage, completion.model);
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
 * Judges free-text constraints of one (instruction, response) with one LLM call for all the
 * uncached ones. Returns one verdict per constraint, in order; never throws for grader failures.
 */
export async function judgeFreeText(
  judge: LlmJudge,
  input: { instruction?: string; response: string; constraints: ReadonlyArray<FreeTextConstraint>; cache?: CacheMode; passScore?: number },
): Promise<LlmVerdict[]> {
  const { provider, unavailableReason } = judge.config;
  if (input.constraints.length === 0) return [];
  if (!provider) return input.constraints.map(() => errorVerdict(unavailableReason ?? "no LLM judge is configured"));
  const passScore = input.passScore ?? judge.config.settings.passScore;
  const keys = await Promise.all(
    input.constraints.map((c) =>
      cacheKey([
        "verdict",
        provider.id,
        provider.model,
        PROMPT_VERSION,
        input.instruction ?? null,
        input.response,
        c.text,
        c.dimension ?? null,
      ]),
    ),
  );
  const hits = await cacheGet(judge, keys, input.cache ?? "use");
  const out: LlmVerdict[] = new Array(input.constraints.length);
  const toJudge: number[] = [];
  input.constraints.forEach((_, i) => {
    const hit = hits.get(keys[i]!) as CachedVerdict | undefined;
    if (hit && typeof hit.score === "number" && typeof hit.explanation === "string") {
      out[i] = ok(hit, passScore, true);
    } else toJudge.push(i);
  });
  if (toJudge.length === 0) return out;

  const asked = toJudge.map((i) => input.constraints[i]!);
  let verdicts: Map<number, RawVerdict>;
  let model = provider.model;
  let failure: { reason: string; attempts?: number } | undefined;
  try {
    const result = await callModel(
      judge,
      provider,
      judgeMessages(input.instruction, input.response, asked),
      judgeResponseSchema(asked.length),
      (content) => parseVerdicts(content, asked.length),
    );
    verdicts = result.value;
    model = result.model;
  } catch (error) {
    failure = describeFailure(error);
    // after the last attempt, keep what an incomplete answer did say
    verdicts =
      error instanceof LlmError && error.options.partial instanceof Map ? (error.options.partial as Map<number, RawVerdict>) : new Map();
  }
  const entries: CacheEntry[] = [];
  toJudge.forEach((original, j) => {
    const v = verdicts.get(j);
    if (!v) {
      out[original] = errorVerdict(failure?.reason ?? "the judge gave no verdict for this constraint", failure?.attempts);
      return;
    }
    const stored: CachedVerdict = { score: v.score, explanation: v.explanation, model };
    out[original] = ok(stored, passScore, false);
    entries.push({
      key: keys[original]!,
      kind: "verdict",
      provider: provider.id,
      model: provider.model,
      promptVersion: PROMPT_VERSION,
      value: stored,
    });
  });
  await cachePut(judge, entries);
  return out;
}

function ok(v: CachedVerdict, passScore: number, cached: boolean): LlmVerdict {
  return {
    kind: "llm",
    status: "ok",
    passed: v.score >= passScore,
    score: v.score,
    explanation: v.explanation,
    model: v.model,
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

interface CachedCompile {
  decision: CompileDecision;
  model: string;
}

/** A short fingerprint of the registry, so adding checkers invalidates cached compilations. */
let catalogFingerprint: Promise<string> | undefined;

/**
 * Compiles free-text constraints into registered checkers: one LLM call for the uncached ones,
 * cached by (provider, model, compile prompt version, registry, constraint). Never throws.
 */
export async function compileFreeText(
  judge: LlmJudge,
  input: { constraints: ReadonlyArray<FreeTextConstraint>; cache?: CacheMode },
): Promise<CompileOutcome[]> {
  const { provider, unavailableReason } = judge.config;
  if (input.constraints.length === 0) return [];
  if (!provider) return input.constraints.map(() => ({ status: "error", reason: unavailableReason ?? "no LLM judge is configured" }));
  const catalog = (judge.catalog ?? checkerCatalog)();
  const fingerprint = judge.catalog
    ? await cacheKey(catalog.map((c) => c.id))
    : await (catalogFingerprint ??= cacheKey(catalog.map((c) => c.id)));
  const keys = await Promise.all(
    input.constraints.map((c) =>
      cacheKey(["compile", provider.id, provider.model, COMPILE_PROMPT_VERSION, fingerprint, c.text, c.dimension ?? null]),
    ),
  );
  const hits = await cacheGet(judge, keys, input.cache ?? "use");
  const out: CompileOutcome[] = new Array(input.constraints.length);
  const toCompile: number[] = [];
  input.constraints.forEach((_, i) => {
    const hit = hits.get(keys[i]!) as CachedCompile | undefined;
    if (hit?.decision && typeof hit.decision.match === "boolean") out[i] = outcome(hit, true);
    else toCompile.push(i);
  });
  if (toCompile.length === 0) return out;

  const asked = toCompile.map((i) => input.constraints[i]!);
  let decisions: Map<number, CompileDecision>;
  let model = provider.model;
  let failure: { reason: string } | undefined;
  try {
    const result = await callModel(judge, provider, compileMessages(asked, catalog), compileResponseSchema(asked.length), (content) =>
      parseCompile(content, asked.length),
    );
    decisions = result.value;
    model = result.model;
  } catch (error) {
    failure = describeFailure(error);
    decisions =
      error instanceof LlmError && error.options.partial instanceof Map
        ? (error.options.partial as Map<number, CompileDecision>)
        : new Map();
  }
  const entries: CacheEntry[] = [];
  toCompile.forEach((original, j) => {
    const decision = decisions.get(j);
    if (!decision) {
      out[original] = { status: "error", reason: failure?.reason ?? "the compiler gave no answer for this constraint" };
      return;
    }
    const stored: CachedCompile = { decision, model };
    out[original] = outcome(stored, false);
    entries.push({
      key: keys[original]!,
      kind: "compile",
      provider: provider.id,
      model: provider.model,
      promptVersion: COMPILE_PROMPT_VERSION,
      value: stored,
    });
  });
  await cachePut(judge, entries);
  return out;
}

function outcome(c: CachedCompile, cached: boolean): CompileOutcome {
  const base = { model: c.model, prompt_version: COMPILE_PROMPT_VERSION, cached };
  const d = c.decision;
  if (d.match) return { status: "compiled", id: d.id, kwargs: d.kwargs, reason: d.reason, ...base };
  return d.invalid
    ? { status: "invalid", reason: d.reason, proposed: d.invalid, ...base }
    : { status: "no-match", reason: d.reason, ...base };
}
