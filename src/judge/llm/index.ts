/**
 * The LLM judge: free-text constraints judged TRACE-style (explanation, then a 0-10 score, JSON
 * validated against a schema), compilation of free text into registered checkers, verdict cache,
 * hybrid routing, and TRACE's report. Pure TypeScript: `fetch` and Web Crypto only; the Workers AI
 * binding and D1 are injected.
 */
export { LlmError } from "./errors.ts";
export type { ChatMessage, ResponseSchema, TokenUsage } from "./types.ts";
export {
  PROMPT_VERSION,
  fence,
  extractJson,
} from "./prompt.ts";
export { modelInputKey, type VerdictCache } from "./cache.ts";
export {
  cacheGet,
  cachePut,
  callModel,
  createLlmJudge,
  judgeFreeText,
  type CacheMode,
  type LlmJudge,
  type LlmVerdict,
  type SpendGuard,
  type UsageObserver,
} from "./judge.ts";
export {
  judgeHybrid,
  validateRuleConstraints,
  type HybridConstraint,
} from "./hybrid.ts";
export {
  traceItemStatus,
  traceReport,
  traceSubset,
  type TraceConstraintOutcome,
} from "./trace-report.ts";
