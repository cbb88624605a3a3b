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
 * divided first among the keys with active jobs (the admin token's jobs count as one key), then
 * among that key's active jobs, at least 1. A lone job gets all of it; a key with three jobs gets
 * what a key with one gets, not three times as much. Active: a job whose kind calls the model,
 * pending or running, that holds a step's lease or awaits its next step, as a job does that
 * committed (or was created, resumed, retried) within STALL_MS. A stalled job (the sweeper's to
 * re-enqueue) and a paused, cancelled, failed or done one take no share.
 *
 * The runner asks at the step's start and again at each heartbeat (every third of the lease, 20 s
 * by default) and resizes the step's limiter, so no step ever has more than `total` in flight.
 * The price of asking D1 rather than counting every call in one place: when a job starts while
 * others are mid-step, it takes its share at once but the others keep theirs until their next
 * heartbeat, so all jobs together may exceed `total` for that long, by at most what the others'
 * shares shrink; then their calls in flight finish and new ones wait for the smaller share. A job
 * that ends leaves its share unused until the others' next heartbeat or step.
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
