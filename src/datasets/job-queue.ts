import { and, eq, inArray, isNull, like, lt, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jobs, utcNow } from "../db/schema.ts";
import type { Bindings } from "../env.ts";
import { JOB_QUEUE_CONFIG } from "./job-queue-config.ts";
import { stepJob, type JobContext, type JobRow } from "./jobs.ts";

/**
 * Jobs on Cloudflare Queues (wrangler.toml: JOB_QUEUE, consumed by this Worker's `queue` handler,
 * src/index.ts). A message is one step of one job — `{job, cursor}`, never one record: the local
 * broker keeps a timer per pending message — and its consumer enqueues the next step after the
 * commit, so each job has one message in flight. That makes sharing fair by construction: the
 * queue is FIFO, so a 120K-record job and a 20-record one take turns step by step (and their
 * steps share the model calls by key, job-share.ts).
 *
 * Delivery is at least once; the cursor makes it exactly-once in output: a step commits only at
 * the cursor it was enqueued for (a redelivered or duplicate message finds the cursor moved on and
 * is dropped) and a message for a job another consumer holds waits for its lease. An unreachable
 * model is retried with backoff (a 429's Retry-After when it gave one); a step that keeps failing
 * goes to the dead-letter queue, whose consumer marks the job `failed` with the reason.
 */

export interface JobMessage {
  job: string;
  cursor: number;
}

/** Backoff of a step whose model was unreachable: doubling from 5 s, at most 5 minutes. */
const retryDelaySeconds = (attempts: number, retryAfterMs?: number) =>
  Math.max(Math.ceil((retryAfterMs ?? 0) / 1000), Math.min(300, 5 * 2 ** Math.max(0, attempts - 1)));

/** Enqueues the job's next step, where this Worker has a queue (else `POST .../run` drives it). */
export async function enqueueJob(env: Bindings, job: Pick<JobRow, "id" | "cursor">): Promise<void> {
  await env.JOB_QUEUE?.send({ job: job.id, cursor: job.cursor } satisfies JobMessage, { contentType: "json" });
}

const isJobMessage = (body: unknown): body is JobMessage =>
  typeof body === "object" &&
  body !== null &&
  typeof (body as JobMessage).job === "string" &&
  Number.isSafeInteger((body as JobMessage).cursor);

/** The job queue's consumer: one step per message, then the next step's message. */
export async function consumeJobMessages(batch: MessageBatch<unknown>, env: Bindings, context: JobContext): Promise<void> {
  for (const message of batch.messages) {
    if (!isJobMessage(message.body)) {
      console.error("job queue: dropping a malformed message", message.body);
      message.ack();
      continue;
    }
    const { job: jobId, cursor } = message.body;
    const result = await stepJob(env.DB, jobId, context, cursor).catch((error: unknown) => {
      console.error(`job ${jobId}: step at ${cursor} failed`, error);
      return null;
    });
    if (result === null) {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      continue;
    }
    switch (result.state) {
      case "stepped":
        if (result.job.status === "running") await enqueueJob(env, result.job);
        message.ack();
        break;
      case "idle":
        // A redelivery of a step that committed may have died before sending the next step's
        // message: send it again when nobody holds the job (a duplicate dies at the cursor check).
        if (message.attempts > 1 && result.job.status === "running" && !leased(result.job)) await enqueueJob(env, result.job);
        message.ack();
        break;
      case "busy":
        message.retry({ delaySeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) });
        break;
      case "interrupted":
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts, result.error.options.retryAfterMs) });
        break;
    }
  }
}

const leased = (job: JobRow) => job.leaseUntil !== null && job.leaseUntil > Date.now();

/**
 * The dead-letter queue's consumer: a step that failed JOB_QUEUE_CONFIG.maxRetries times fails its job
 * with the last reason, unless the job moved on meanwhile or a runner holds it.
 */
export async function failDeadJobs(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  for (const message of batch.messages) {
    if (isJobMessage(message.body)) {
      const { job: jobId, cursor } = message.body;
      const row = await drizzle(env.DB).select({ error: jobs.error }).from(jobs).where(eq(jobs.id, jobId)).get();
      await drizzle(env.DB)
        .update(jobs)
        .set({
          status: "failed",
          error: `the step at source position ${cursor} failed ${JOB_QUEUE_CONFIG.maxRetries + 1} times; last: ${row?.error?.replace(/^interrupted: /, "") ?? "unknown"}`,
          updatedAt: utcNow,
        })
        .where(
          and(
            eq(jobs.id, jobId),
            eq(jobs.cursor, cursor),
            eq(jobs.status, "running"),
            like(jobs.error, "interrupted:%"),
            or(isNull(jobs.leaseUntil), lt(jobs.leaseUntil, Date.now())),
          ),
        )
        .run();
    }
    message.ack();
  }
}

/**
 * Enqueues every pending or running job at its D1 cursor. Local queues do not survive a restart of
 * `wrangler dev`, so a fresh isolate does this once where JOB_REQUEUE_ON_START says so
 * (src/index.ts): jobs go on where they stood, and a message that duplicates a live one dies at
 * the cursor check.
 */
export async function requeueJobs(env: Bindings): Promise<number> {
  if (!env.JOB_QUEUE) return 0;
  const rows = await drizzle(env.DB)
    .select({ id: jobs.id, cursor: jobs.cursor })
    .from(jobs)
    .where(inArray(jobs.status, ["pending", "running"]))
    .all();
  for (const row of rows) await enqueueJob(env, row);
  return rows.length;
}

/**
 * How long a pending or running job may go without a lease and without a commit (`updated_at`)
 * before the sweeper takes it for stalled: longer than the longest retry delay (5 minutes), so a
 * job whose step waits for its retry is left to it.
 */
export const STALL_MS = 10 * 60_000;

/**
 * The cron sweeper (wrangler.toml [triggers], src/index.ts `scheduled`): enqueues the jobs that
 * stalled, as when the message for a job's next step was lost. Only those: a job whose message is
 * on its way is not sent again.
 */
export async function requeueStalledJobs(env: Bindings, now = Date.now()): Promise<number> {
  if (!env.JOB_QUEUE) return 0;
  const rows = await drizzle(env.DB)
    .select({ id: jobs.id, cursor: jobs.cursor })
    .from(jobs)
    .where(
      and(
        inArray(jobs.status, ["pending", "running"]),
        or(isNull(jobs.leaseUntil), lt(jobs.leaseUntil, now)),
        lt(jobs.updatedAt, new Date(now - STALL_MS).toISOString()),
      ),
    )
    .all();
  for (const row of rows) await enqueueJob(env, row);
  return rows.length;
}
