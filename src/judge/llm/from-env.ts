/**
 * The LLM judge as the Worker builds it from its environment: the configuration from its vars,
 * the verdict cache in D1, and the spend budgets of whom the calls are made for. The one file of
 * the LLM judge that knows the Worker (its bindings, its requests); the rest is given these.
 */
import type { Context } from "hono";
import { d1VerdictCache } from "../../db/llm-cache.ts";
import type { AppEnv, Bindings } from "../../env.ts";
import { clientAddress } from "../../lib/auth.ts";
import { callerSubjects, spendGuard, type SpendSubject } from "../../lib/spend.ts";
import { llmConfigFromVars } from "./config.ts";
import { createLlmJudge, type LlmJudge } from "./judge.ts";

/**
 * Whom model calls are made for: the subjects whose budgets they count against (src/lib/spend.ts:
 * the caller's key, or its address and the anonymous ceiling; a job passes its owner's key id),
 * and the request waiting for them, if any (its abort stops the calls not yet sent).
 */
export interface LlmCaller {
  spend: readonly SpendSubject[];
  signal?: AbortSignal;
}

/** An LLM judge: the configuration, the D1 cache, a concurrency cap, and the caller's budgets. */
export function llmJudgeFor(env: Bindings, caller: LlmCaller): LlmJudge {
  return createLlmJudge(llmConfigFromVars(env, env.AI), d1VerdictCache(env.DB), {
    onCacheError: (error) => console.error("llm cache unavailable", error),
    spend: spendGuard(env, caller.spend),
    ...(caller.signal ? { signal: caller.signal } : {}),
  });
}

/** The LLM judge of one API request: charged to its caller, stopped when the client goes away. */
export const requestLlmJudge = (c: Context<AppEnv>): LlmJudge =>
  llmJudgeFor(c.env, { spend: callerSubjects(c.get("principal"), clientAddress(c)), signal: c.req.raw.signal });
