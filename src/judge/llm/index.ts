/**
 * The LLM judge: free-text constraints judged TRACE-style (explanation, then a 0-10 score, JSON
 * validated against a schema), compilation of free text into registered checkers, verdict cache,
 * hybrid routing, and TRACE's report. Pure TypeScript: `fetch` and Web Crypto only; the Workers AI
 * binding and D1 are injected.
 */
export { LlmError } from "./errors.ts";
export type { ChatMessage, ResponseSchema, TokenUsage } from "./types.ts";
export { llmConfigFromVars } from "./config.ts";
export {
  PROMPT_VERSION,
  fence,
  extractJson,
} from "./prompt.ts";
export { checkerCatalog } from "./catalog.ts";
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
  needsLlm,
  validateRuleConstraints,
  type HybridConstraint,
  type HybridItem,
} from "./hybrid.ts";
export {
  traceItemStatus,
  traceReport,
  traceSubset,
  type TraceConstraintOutcome,
  type TraceSubset,
} from "./trace-report.ts";
