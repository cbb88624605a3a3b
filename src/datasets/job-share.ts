import { and, gt, gte, inArray, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { jobs } from "../db/schema.ts";
import type { Bindings } from "../env.ts";
import { STALL_MS } from "./job-queue.ts";
import { callsModel } from "./job-registry.ts";
import type { JobRow } from "./jobs.ts";

/** JOB_LLM_CONCURRENCY: model calls in flight across all jobs' steps together (default 8). */
export function jobLlmConcurrency(env: Pick<Bindings, "JOB_LLM_CONCURRENCY">): number {
  const total = Number(env.JOB_LLM_CONCURRENCY ?? 8);
  return Number.isInteger(total) && total >= 1 ? total : 8;
}

/**
 * The model calls a step of `job` may have in flight: its share of `total` (JOB_LLM_CONCURRENCY),
 * divided first among the keys with active jobs, then among that key's active jobs, at least 1:
 * a lone job gets all of it, and a key with three jobs gets what a key with one gets, not three
 * times as much (the admin token's jobs count as one key). Active: a job that calls the model (its kind says so) and is pending or running
 * and holds a step's lease or awaits its next step, which is what a job has that committed (or
 * was created, resumed, retried) within STALL_MS: a stalled job, the sweeper's to re-enqueue, and
 * a paused, cancelled, failed or done one take no share.
 *
 * The runner asks at the step's start and again at each heartbeat (every third of the lease) and
 * resizes the step's limiter; no step ever exceeds `total`. The price of not coordinating the
 * steps' calls through one counter: when a job starts while others are mid-step, it takes its
 * share at once while the others keep theirs until their next heartbeat, so all jobs' calls may
 * exceed `total` for that long, by at most what the others' shares shrink; past it, their calls
 * in flight finish and new ones wait for their smaller share. A job that ends leaves its share
 * unused until the others' next heartbeat or step.
 */
export async function modelCallShare(db: D1Database, job: Pick<JobRow, "id" | "ownerKeyId">, total: number): Promise<number> {
  const now = Date.now();
  const rows = await drizzle(db)
    .select({ id: jobs.id, ownerKeyId: jobs.ownerKeyId, kind: jobs.kind, params: jobs.params })
    .from(jobs)
    .where(
      and(
        inArray(jobs.status, ["pending", "running"]),
        or(gt(jobs.leaseUntil, now), gte(jobs.updatedAt, new Date(now - STALL_MS).toISOString())),
      ),
    )
    .all();
  // the job asking is active whatever its row says now (a pause mid-step stops its calls anyway)
  const active = [...rows.filter((row) => row.id !== job.id && callsModel(row)), job];
  const keys = new Set(active.map((row) => row.ownerKeyId));
  const jobsOfKey = active.filter((row) => row.ownerKeyId === job.ownerKeyId).length;
  return Math.max(1, Math.floor(total / keys.size / jobsOfKey));
}
