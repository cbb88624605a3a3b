import { z } from "@hono/zod-openapi";

/** Dataset jobs (build-quadruples, build-trace, freeze-version) on the wire. */

/**
 * pending → running ⇄ paused → done | failed | cancelled. A paused job keeps its cursor and
 * resumes there; cancelled, done and failed are final.
 */
export const JOB_STATUSES = ["pending", "running", "paused", "cancelled", "done", "failed"] as const;

/** The LLM calls a job made, with its token totals. */
export const JobUsageSchema = z.object({
  calls: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cache_hits: z.number().int(),
});

/** What a job's `progress` holds, for every job kind. */
export const JobProgressSchema = z
  .object({
    processed: z.number().int(),
    produced: z.number().int(),
    duplicates: z.number().int(),
    /** Produced records by operation (build-quadruples) or by path (build-trace: "trace"). */
    by_op: z.record(z.string(), z.number()),
    /** Rejected source records by reason. */
    skipped: z.record(z.string(), z.number()),
    usage: JobUsageSchema.optional(),
  })
  .openapi("JobProgress");

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.enum(JOB_STATUSES),
    params: z.record(z.string(), z.unknown()),
    cursor: z.number().int().openapi({ description: "next source position to process (freeze-version: next shard to write)" }),
    total: z.number().int(),
    progress: JobProgressSchema,
    error: z.string().nullable(),
    runner: z.enum(["queue", "client"]).optional().openapi({
      description: "queue: the server's job queue runs it, clients only watch; client: this server has no queue, `POST .../run` drives it",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Job");

/**
 * What one source record of a job became: produced (by op or path `stage`), a duplicate of a record
 * the target holds, or rejected (at `stage`; the reason is in `.../rejects`), and its model tokens.
 */
export const JobRecordEventSchema = z
  .object({
    position: z.number().int(),
    id: z.string().openapi({ description: "the source record's id" }),
    outcome: z.enum(["produced", "duplicate", "rejected"]),
    stage: z.string(),
    tokens: z.number().int(),
  })
  .openapi("JobRecordEvent");

/**
 * One line of `GET /v1/datasets/{name}/jobs/{id}/events` (NDJSON): the job as it stands whenever
 * it changed, with what the last step added (`step`) and each of its records (`records`), the rate
 * since the stream began and the estimated time left. The stream ends when the job is paused,
 * cancelled, done or failed, or after `timeout_s` (then the client asks again).
 */
export const JobEventSchema = z
  .object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    cursor: z.number().int(),
    total: z.number().int(),
    produced: z.number().int(),
    rejected: z.number().int(),
    tokens: z.number().int(),
    calls: z.number().int(),
    step: z.object({ processed: z.number().int(), produced: z.number().int(), rejected: z.number().int(), tokens: z.number().int() }),
    records: z.array(JobRecordEventSchema).openapi({
      description: "each source record processed since the previous line, in position order (record kinds; empty for freeze-version)",
    }),
    records_per_s: z.number().nullable(),
    eta_s: z.number().nullable(),
    error: z.string().nullable(),
  })
  .openapi("JobEvent");

/** POST /v1/datasets/{name}/jobs/{id}/run */
export const RunJobBody = z.object({ max_batches: z.number().int().min(1).max(1000).default(10) }).strict();

/** The answer to POST /v1/datasets/{name}/jobs/{id}/run: `busy` when another runner holds the job; `interrupted` why the run stopped early (resumable). */
export const JobRunSchema = z.object({ job: JobSchema, ran: z.number().int(), busy: z.boolean(), interrupted: z.string().optional() });
