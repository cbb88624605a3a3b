import { z } from "@hono/zod-openapi";
import { DatasetName } from "@iopo/common/api";
import type { LlmJudge } from "../judge/llm/index.ts";
import type { DatasetRecord } from "./records.ts";
import type { DatasetRow } from "./store/access.ts";

/**
 * What a kind of dataset job is to the runner (src/datasets/jobs.ts). A record kind gives its
 * parameters' schema and the work of one source record; the runner owns everything else — the
 * cursor, the lease, the commit, rejects, usage, the queue — so such a kind is pure
 * record-to-outcome logic. A unit kind (freezing a version's shards) does its own units of work
 * per step and the runner commits only the cursor. Kinds are listed in
 * src/datasets/job-registry.ts; the pipelines import only this contract, never the runner.
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

/** What a step gives its kind: the job, D1 and the taxonomy. */
export interface StepContext<P> {
  db: D1Database;
  jobId: string;
  sourceId: string;
  params: P;
  dimensionNames: ReadonlyMap<string, string>;
}

/**
 * The work of one record, given its judge (acting as the job's owner; its calls' tokens are
 * counted to this record), which throws LlmError "unavailable" where no provider is configured.
 */
export type RecordWork = (row: SourceRow, llm: () => LlmJudge) => Promise<RecordOutcome>;

/** A kind that turns each source record into a record of its target dataset (or a reject). */
export interface RecordJobKind<P extends RecordJobParams = RecordJobParams> {
  /** Its parameters as POST .../jobs/{kind} takes them, defaults filled in (stored without `visibility`). */
  params: z.ZodType<P>;
  /** The work of one step: what its records share is prepared once, then each record is built. */
  prepareStep(context: StepContext<P>): Promise<RecordWork>;
  /**
   * Whether a job with these parameters calls the model: only such jobs take a share of all jobs'
   * model calls (src/datasets/job-share.ts). A unit kind never does.
   */
  callsModel(params: P): boolean;
}

/** What a unit kind's step is given: the job, D1 and the shard bucket. */
export interface UnitContext<P> {
  db: D1Database;
  shards: R2Bucket;
  jobId: string;
  dataset: DatasetRow;
  params: P;
}

/**
 * A kind whose job is `total` units of its own (a version's shards), `batch_size` per step. A step
 * must be idempotent: delivery is at least once, so a unit may be done again after a lost lease
 * and must then write exactly what it wrote before.
 */
export interface UnitJobKind<P extends JobParams = JobParams> {
  params: z.ZodType<P>;
  /** Does units [from, to); the runner then advances the cursor (only from `from`). */
  runUnits(context: UnitContext<P>, from: number, to: number): Promise<void>;
}

export type JobKind = RecordJobKind | UnitJobKind;

/** A job's token cap (`token_budget`), at creation and on resume. */
export const TokenBudget = z
  .number()
  .int()
  .min(1)
  .max(10 ** 12);

/** Parameters every record kind has. */
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

/** Parameters of every job: units (source records, shards) per step and a token cap. */
export interface JobParams {
  batch_size: number;
  token_budget?: number;
}

/** Parameters of every record kind (`commonJobParams`). */
export interface RecordJobParams extends JobParams {
  target: string;
  visibility?: "public" | "private";
  seed: number;
}
