/**
 * The LLM judge: free-text constraints judged TRACE-style (explanation, then a 0-10 score, JSON
 * validated against a schema), compilation of free text into registered checkers, verdict cache,
 * hybrid routing, and TRACE's report. Pure TypeScript: `fetch` and Web Crypto only; the Workers AI
 * binding and D1 are injected.
 */
export { LlmError, parseRetryAfter, type LlmErrorKind } from "./errors.ts";
export type { AiBinding, ChatMessage, Completion, CompletionRequest, LlmProvider, ResponseSchema, TokenUsage } from "./types.ts";
export { DEFAULT_SETTINGS, DEFAULT_WORKERS_AI_MODEL, llmConfigFromVars, type LlmConfig, type LlmSettings, type LlmVars } from "./config.ts";
export { estimatedTokens, openAiCompatibleProvider, TOKEN_USAGE_MAX, workersAiProvider } from "./providers.ts";
export { backoffDelay, createLimiter, withRetries, type Limiter, type RetryOptions, type Sleep } from "./retry.ts";
export {
  PROMPT_VERSION,
  EXPLANATION_MAX_CHARS,
  answerIndex,
  boundedExplanation,
  constraintIds,
  fence,
  untrustedJson,
  judgeMessages,
  judgeResponseSchema,
  parseVerdicts,
  extractJson,
  type FreeTextConstraint,
  type RawVerdict,
} from "./prompt.ts";
export { COMPILE_PROMPT_VERSION, compileMessages, compileResponseSchema, parseCompile, type CompileDecision } from "./compile.ts";
export { checkerCatalog, compactKwargs, instructionTemplate, type CatalogEntry } from "./catalog.ts";
export { cacheKey, memoryCache, modelInputKey, type CacheEntry, type CacheKind, type VerdictCache } from "./cache.ts";
export {
  cacheGet,
  cachePut,
  callModel,
  compileFreeText,
  createLlmJudge,
  judgeFreeText,
  type CacheMode,
  type CompileOutcome,
  type LlmJudge,
  type LlmVerdict,
  type SpendGuard,
  type UsageObserver,
} from "./judge.ts";
export {
  isTextConstraint,
  judgeHybrid,
  needsLlm,
  validateRuleConstraints,
  type HybridConstraint,
  type HybridItem,
} from "./hybrid.ts";
export {
  traceItemStatus,
  traceReport,
  traceSubset,
  type ConstraintAccuracy,
  type InstructionAccuracy,
  type TraceConstraintOutcome,
  type TraceItemOutcome,
  type TraceItemStatus,
  type TraceReport,
  type TraceSubset,
} from "./trace-report.ts";
