import type { D1Migration } from "cloudflare:test";
import type { Bindings } from "../../src/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
      ADMIN_TOKEN: string;
      /** IFEval's GPT-4 prompt set and responses (JSONL text), from data/. */
      IFEVAL_INPUT: string;
      IFEVAL_RESPONSES: string;
      /** IFBench's original prompts, sample responses and the reference's strict verdicts. */
      IFBENCH_INPUT: string;
      IFBENCH_RESPONSES: string;
      IFBENCH_REFERENCE_STRICT: string;
      /** The committed `/openapi.json` (test/worker/fixtures/openapi.json), the API's contract. */
      OPENAPI_CONTRACT: string;
      /** The fake LLM provider's root URL (test/fake-llm/server.ts). */
      FAKE_LLM_URL: string;
      /** A few TRACE evaluation lines (JSONL), from data/trace. */
      TRACE_EVAL_SAMPLE: string;
      /** A rate limiter of 3 requests a minute (vitest.config.ts), swapped in for KEY_LIMITER. */
      TEST_KEY_LIMITER: RateLimit;
    }
  }
}
