import type { JobEvent } from "@iopo/common";
import { and, asc, eq, gte, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jobRecordOutcomes } from "../db/schema.ts";
import { type BuildProgress, jobById, type JobWithUsage, presentJob } from "./jobs.ts";

/**
 * A job's live events (`GET .../jobs/{id}/events`): a JobEvent line whenever the job changed, with
 * each source record its steps finished since the previous line (read from job_record_outcomes,
 * which a step commits with its cursor advance, so no record is missed however fast steps go).
 */

/** How often an events stream looks at the job. */
const EVENTS_POLL_MS = 500;
/** Record events one line carries at most; the rest follow in the next lines. */
const RECORDS_PER_LINE = 500;

/** The records of positions [from, to) the job finished, at most RECORDS_PER_LINE. */
async function recordEvents(db: D1Database, jobId: string, from: number, to: number): Promise<JobEvent["records"]> {
  if (to <= from) return [];
  const rows = await drizzle(db)
    .select()
    .from(jobRecordOutcomes)
    .where(and(eq(jobRecordOutcomes.jobId, jobId), gte(jobRecordOutcomes.position, from), lt(jobRecordOutcomes.position, to)))
    .orderBy(asc(jobRecordOutcomes.position))
    .limit(RECORDS_PER_LINE)
    .all();
  return rows.map((r) => ({ position: r.position, id: r.sourceRecord, outcome: r.outcome, stage: r.stage, tokens: r.tokens }));
}

const rejectedOf = (job: JobWithUsage) => Object.values((JSON.parse(job.progress) as BuildProgress).skipped).reduce((a, b) => a + b, 0);

const countsOf = (job: JobWithUsage) => {
  const p = presentJob(job).progress;
  return { processed: p.processed, produced: p.produced, rejected: rejectedOf(job), tokens: p.usage.total_tokens, calls: p.usage.calls };
};

const moving = (job: JobWithUsage) => job.status === "pending" || job.status === "running";

/** The job's events until it stops moving or `timeoutMs` passed. */
export function jobEvents(db: D1Database, first: JobWithUsage, timeoutMs: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const started = Date.now();
  const event = (job: JobWithUsage, before: JobWithUsage, records: JobEvent["records"]): JobEvent => {
    const now = countsOf(job);
    const was = countsOf(before);
    const seconds = (Date.now() - started) / 1000;
    const rate = job.cursor > first.cursor && seconds > 0 ? (job.cursor - first.cursor) / seconds : null;
    return {
      id: job.id,
      status: job.status,
      cursor: job.cursor,
      total: job.total,
      produced: now.produced,
      rejected: now.rejected,
      tokens: now.tokens,
      calls: now.calls,
      step: {
        processed: now.processed - was.processed,
        produced: now.produced - was.produced,
        rejected: now.rejected - was.rejected,
        tokens: now.tokens - was.tokens,
      },
      records,
      records_per_s: rate === null ? null : Math.round(rate * 100) / 100,
      eta_s: rate === null ? null : Math.round((job.total - job.cursor) / rate),
      error: job.error,
    };
  };
  let last = first;
  // positions below this have had their record events sent
  let sentUpTo = first.cursor;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (line: JobEvent) => controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
      send(event(first, first, []));
      if (!moving(first)) return controller.close();
      const poll = async () => {
        const job = await jobById(db, first.id);
        if (!job) return controller.close();
        const records = await recordEvents(db, job.id, sentUpTo, job.cursor);
        sentUpTo = records.length === RECORDS_PER_LINE ? records.at(-1)!.position + 1 : job.cursor;
        const changed =
          records.length > 0 ||
          job.status !== last.status ||
          job.cursor !== last.cursor ||
          job.error !== last.error ||
          job.usage?.calls !== last.usage?.calls;
        if (changed) send(event(job, last, records));
        last = job;
        const behind = sentUpTo < job.cursor;
        if ((!moving(job) && !behind) || Date.now() - started >= timeoutMs) return controller.close();
        timer = setTimeout(() => poll().catch((error) => controller.error(error)), behind ? 0 : EVENTS_POLL_MS);
      };
      timer = setTimeout(() => poll().catch((error) => controller.error(error)), EVENTS_POLL_MS);
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
    },
  });
}
