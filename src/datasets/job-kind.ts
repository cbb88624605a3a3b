import { z } from "@hono/zod-openapi";
import { DatasetName } from "@iopo/common/api";
import type { LlmJudge } from "../judge/llm/index.ts";
import type { DatasetRecord } from "./records.ts";

/**
 * What a kind of dataset job is to the runner (src/datasets/jobs.ts): its parameters' schema and
 * the work of one source record. The runner owns everything else — the cursor, the lease, the
 * commit, rejects, usage, the queue — so a kind is pure record-to-outcome logic. Kinds are listed
 * in src/datasets/job-registry.ts; the pipelines import only this contract, never the runner.
 */

/** One source record's result: a record for the target, or why there is none (a reject row). */
export type RecordOutcome =
  | { ok: true; record: DatasetRecord; tag: string }
  | { ok: false; reason: string; stage: string; detail?: unknown };

/** A source record as a step reads it. */
export interface SourceRow {
  id: string;
  position: number;
  record: DatasetRecord;
}

/** What a step gives its kind: the job, D1, the taxonomy, and the job's LLM judge (acting as the job's owner). */
export interface StepContext<P> {
  db: D1Database;
  jobId: string;
  sourceId: string;
  params: P;
  dimensionNames: ReadonlyMap<string, string>;
  /** The step's judge; throws LlmError "unavailable" where no provider is configured. */
  llm: () => LlmJudge;
}

export interface JobKind<P extends JobParams = JobParams> {
  /** Its parameters as POST .../jobs/{kind} takes them, defaults filled in (stored without `visibility`). */
  params: z.ZodType<P>;
  /** The work of one step: what its records share is prepared once, then each record is built. */
  prepareStep(context: StepContext<P>): Promise<(row: SourceRow) => Promise<RecordOutcome>>;
}

/** A job's token cap (`token_budget`), at creation and on resume. */
export const TokenBudget = z
  .number()
  .int()
  .min(1)
  .max(10 ** 12);

/** Parameters every kind has. */
export const commonJobParams = {
  target: DatasetName,
  visibility: z.enum(["public", "private"]).optional().openapi({ description: "for a new target; default: the source's" }),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .default(0)
    .openapi({ description: "seeds every random choice (with the record id): the same seed builds the same output" }),
  token_budget: TokenBudget.optional().openapi({
    description:
      "the job's model tokens (prompt + completion) at most: once spent, no further call is sent and the job is `paused` saying so; resume with a larger `token_budget`. Distinct from LLM_MAX_TOKENS, the cap of one call.",
  }),
};

export interface JobParams {
  target: string;
  visibility?: "public" | "private";
  seed: number;
  batch_size: number;
  token_budget?: number;
}
