import { and, asc, count, desc, eq, getTableColumns, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { JobProgress } from "@iopo/common";
import { d1Statement } from "../db/d1.ts";
import { datasets, jobRejects, jobUsage, jobs, utcNow } from "../db/schema.ts";
import { LlmError, type LlmJudge, type TokenUsage, type UsageObserver } from "../judge/llm/index.ts";
import { createLimiter, type Limiter } from "../judge/llm/retry.ts";
import type { Principal } from "../lib/principal.ts";
import { ProblemError } from "../lib/problem.ts";
import type { JobParams, RecordJobKind, RecordOutcome, SourceRow, UnitJobKind } from "./job-kind.ts";
import { callsModel, jobKind, type JobKindName } from "./job-registry.ts";
import { canRead, createDataset, findDataset, visibleDataset, type DatasetRow } from "./store/access.ts";
import { appendRecords, existingIds, prepareRecords, type CheckerValidator } from "./store/ingest.ts";
import { canonicalJson } from "./records.ts";
import { recordsInRange, toRecord } from "./store/rows.ts";

/**
 * The runner of dataset jobs (the kinds are in job-registry.ts), driven by a cursor in D1: each
 * step processes the next batch of source positions and commits its output, its reject rows and
 * the cursor advance in one D1 batch. A step that dies writes nothing; the next step redoes it (an
 * LLM step finds its finished calls in the cache). Output records are content-addressed and built
 * deterministically, so a step repeated after a lost lease adds nothing twice.
 *
 * Steps run from the job queue (job-queue.ts: no client needs to stay up) or from
 * `POST .../jobs/{id}/run` where there is no queue. Either way a job acts as its owner, the key that
 * created it (`jobOwner`), never as whoever drives it; a lease held by a heartbeat keeps one runner
 * per job however long a step takes; a paused or cancelled job sends no further model call.
 */

/** A job as stored: its row of `jobs` (src/db/schema.ts). */
export type JobRow = typeof jobs.$inferSelect;

/** What a job's model calls spent: its `job_usage` row (none before the job's first model call). */
const usageColumns = {
  calls: jobUsage.calls,
  promptTokens: jobUsage.promptTokens,
  completionTokens: jobUsage.completionTokens,
  cacheHits: jobUsage.cacheHits,
};
export type JobWithUsage = JobRow & { usage: Pick<typeof jobUsage.$inferSelect, keyof typeof usageColumns> | null };

/** Jobs with their usage, for a `where`. */
const selectJobs = (db: D1Database) =>
  drizzle(db)
    .select({ ...getTableColumns(jobs), usage: usageColumns })
    .from(jobs)
    .leftJoin(jobUsage, eq(jobUsage.jobId, jobs.id));

/** A job's stored progress: the wire's JobProgress less `usage` (kept in `job_usage`, joined when presented); `skipped` counts the `job_rejects` rows by reason. */
export type BuildProgress = Omit<JobProgress, "usage">;

/** Statuses a runner may step. */
const RUNNABLE = ["pending", "running"] as const;

/** Whom a job acts as: the key that created it (null: the admin token). Model calls, and their budget, belong to it. */
export interface JobOwner {
  keyId: string | null;
}
export const jobOwner = (job: Pick<JobRow, "ownerKeyId">): JobOwner => ({ keyId: job.ownerKeyId });

/** Who may run, pause, resume, cancel a job and read its rejects: its owner and admins. */
export const canControl = (principal: Principal, job: Pick<JobRow, "ownerKeyId">): boolean =>
  principal.scopes.has("admin") || (principal.keyId !== null && principal.keyId === job.ownerKeyId);

/**
 * A new pending job. `total`: its units, by default the source's records (a record kind's job
 * covers the records present now).
 */
export async function createJob(
  db: D1Database,
  job: {
    id?: string;
    source: DatasetRow;
    target: DatasetRow;
    kind: JobKindName;
    params: JobParams & { visibility?: "public" | "private" };
    total?: number;
    principal: Principal;
  },
): Promise<JobWithUsage> {
  const progress: BuildProgress = { processed: 0, produced: 0, duplicates: 0, by_op: {}, skipped: {} };
  const { visibility: _visibility, ...params } = job.params;
  const row = await drizzle(db)
    .insert(jobs)
    .values({
      id: job.id ?? crypto.randomUUID(),
      datasetId: job.source.id,
      targetDatasetId: job.target.id,
      ownerKeyId: job.principal.keyId,
      kind: job.kind,
      status: "pending",
      params: JSON.stringify(params),
      total: job.total ?? job.source.recordCount,
      progress: JSON.stringify(progress),
    })
    .returning()
    .get();
  return { ...row, usage: null };
}

/**
 * The dataset a job writes to: created (with the source's visibility unless given) when missing;
 * the caller must be allowed to write it. It must differ from the source.
 */
export async function prepareTarget(
  db: D1Database,
  source: DatasetRow,
  target: string,
  visibility: "public" | "private" | undefined,
  principal: Principal,
  description: string,
): Promise<DatasetRow> {
  if (target === source.name) {
    throw new ProblemError(422, "validation", "The target must differ from the source dataset.", [
      { field: "body.target", message: "same as the source" },
    ]);
  }
  const existing = await visibleDataset(db, target, principal);
  if (!existing) await createDataset(db, { name: target, description, visibility: visibility ?? source.visibility }, principal);
  return findDataset(db, target, principal, "write");
}

const datasetsById = async (db: D1Database, ids: (string | null)[]): Promise<Map<string, DatasetRow>> => {
  const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
  if (wanted.length === 0) return new Map();
  const rows = await drizzle(db)
    .select()
    .from(datasets)
    .where(sql`${datasets.id} IN (SELECT value FROM json_each(${JSON.stringify(wanted)}))`)
    .all();
  return new Map(rows.map((r) => [r.id, r]));
};

/** A job this caller may see: its own, or one whose target it may read (a private target's jobs are its owner's business). */
const mayRead = (principal: Principal, job: JobRow, target: DatasetRow | undefined) =>
  canControl(principal, job) || (target !== undefined && canRead(principal, target));

/**
 * A job reached from its source or its target dataset. `read`: the caller sees it (else 404, as if
 * absent); `control`: the caller is its owner or an admin (403 when it only sees it).
 */
export async function findJob(
  db: D1Database,
  dataset: DatasetRow,
  id: string,
  principal: Principal,
  access: "read" | "control",
): Promise<JobWithUsage> {
  const row = await selectJobs(db)
    .where(and(eq(jobs.id, id), or(eq(jobs.datasetId, dataset.id), eq(jobs.targetDatasetId, dataset.id))))
    .get();
  const target = row?.targetDatasetId ? (await datasetsById(db, [row.targetDatasetId])).get(row.targetDatasetId) : undefined;
  if (!row || !mayRead(principal, row, target))
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no job "${id}".`, [
      { field: "path.id", message: "unknown job" },
    ]);
  if (access === "control" && !canControl(principal, row))
    throw new ProblemError(403, "forbidden", `Only the key that created job "${id}" (or an admin) may control it or read its rejects.`);
  return row;
}

/** Jobs over or into this dataset that the caller may see, newest first. */
export async function listJobs(db: D1Database, dataset: DatasetRow, principal: Principal): Promise<JobWithUsage[]> {
  const rows = await selectJobs(db)
    .where(or(eq(jobs.datasetId, dataset.id), eq(jobs.targetDatasetId, dataset.id)))
    .orderBy(desc(jobs.createdAt))
    .all();
  const targets = await datasetsById(
    db,
    rows.map((r) => r.targetDatasetId),
  );
  return rows.filter((r) => mayRead(principal, r, r.targetDatasetId ? targets.get(r.targetDatasetId) : undefined));
}

/** A stored job's row by id alone (the queue's and the runner's view; callers' access is checked by findJob). */
export async function jobById(db: D1Database, id: string): Promise<JobWithUsage | null> {
  return (await selectJobs(db).where(eq(jobs.id, id)).get()) ?? null;
}

const usageOf = (job: JobWithUsage) => ({
  calls: job.usage?.calls ?? 0,
  prompt_tokens: job.usage?.promptTokens ?? 0,
  completion_tokens: job.usage?.completionTokens ?? 0,
  total_tokens: (job.usage?.promptTokens ?? 0) + (job.usage?.completionTokens ?? 0),
  cache_hits: job.usage?.cacheHits ?? 0,
});

/** A job as the API shows it (snake_case, the JSON columns parsed, usage zero before any call). */
export function presentJob(job: JobWithUsage) {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    params: JSON.parse(job.params) as Record<string, unknown>,
    cursor: job.cursor,
    total: job.total,
    progress: { ...(JSON.parse(job.progress) as BuildProgress), usage: usageOf(job) },
    error: job.error,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
  };
}

/** A job's reject table as the API shows it: counts by reason (most first) and one page of rows. */
export async function presentRejects(db: D1Database, job: JobRow, page: { reason?: string; limit: number; offset: number }) {
  const orm = drizzle(db);
  const counts = await orm
    .select({ reason: jobRejects.reason, n: count() })
    .from(jobRejects)
    .where(eq(jobRejects.jobId, job.id))
    .groupBy(jobRejects.reason)
    .orderBy(desc(count()), asc(jobRejects.reason))
    .all();
  const rows = await orm
    .select()
    .from(jobRejects)
    .where(and(eq(jobRejects.jobId, job.id), page.reason === undefined ? undefined : eq(jobRejects.reason, page.reason)))
    .orderBy(asc(jobRejects.position))
    .limit(page.limit)
    .offset(page.offset)
    .all();
  return {
    by_reason: Object.fromEntries(counts.map((r) => [r.reason, r.n])),
    total: counts.reduce((n, r) => n + r.n, 0),
    rejects: rows.map((r) => ({
      position: r.position,
      source_record: r.sourceRecord,
      stage: r.stage,
      reason: r.reason,
      // JSON the job itself wrote
      detail: JSON.parse(r.detail) as unknown,
    })),
  };
}

// --- control ---------------------------------------------------------------------------------

export type JobAction = "pause" | "resume" | "cancel";

/** The statuses each action starts from, and where it takes the job. */
const TRANSITIONS: Record<JobAction, { from: readonly JobRow["status"][]; to: JobRow["status"] }> = {
  pause: { from: ["pending", "running"], to: "paused" },
  // a failed job (a step that kept failing) may be tried again from its cursor
  resume: { from: ["paused", "failed"], to: "running" },
  cancel: { from: ["pending", "running", "paused", "failed"], to: "cancelled" },
};

/**
 * Pauses, resumes or cancels a job. A runner in the middle of a step sees the change at its next
 * heartbeat and sends no further model call; what the step already finished is cached. `resume`
 * may raise the token budget. 409 when the job's status does not allow the action.
 */
export async function controlJob(db: D1Database, job: JobRow, action: JobAction, change: { tokenBudget?: number } = {}): Promise<JobRow> {
  const { from, to } = TRANSITIONS[action];
  const params = { ...(JSON.parse(job.params) as JobParams) };
  if (change.tokenBudget !== undefined) params.token_budget = change.tokenBudget;
  const row = await drizzle(db)
    .update(jobs)
    .set({ status: to, params: JSON.stringify(params), ...(action === "resume" ? { error: null } : {}), updatedAt: utcNow })
    .where(and(eq(jobs.id, job.id), inArray(jobs.status, [...from])))
    .returning()
    .get();
  if (!row)
    throw new ProblemError(
      409,
      "conflict",
      `Job "${job.id}" is ${job.status}; only a job that is ${from.join(", ")} can be ${action === "cancel" ? "cancelled" : `${action}d`}.`,
    );
  return row;
}

// --- running ---------------------------------------------------------------------------------

/** What a job's step needs besides D1: the shard bucket, record validation, the taxonomy, and an LLM judge acting as the job's owner. */
export interface JobContext {
  shards: R2Bucket;
  validateChecker: CheckerValidator;
  dimensionNames: Map<string, string>;
  /** A judge for the job's owner whose calls report to `usage` (each step gets its own). */
  llm?: (owner: JobOwner, usage: UsageObserver) => LlmJudge;
  /** The model calls a step of this job may have in flight now (job-share.ts): asked at the step's start and at each heartbeat. */
  modelCallShare: (job: JobRow) => Promise<number>;
  /** How long a lease lasts without a heartbeat (JOB_LEASE_MS; default 60 s). */
  leaseMs: number;
}

export const DEFAULT_LEASE_MS = 60_000;

/** One step's result, for the runners (the /run route's loop, the queue consumer). */
export type StepResult =
  /** A batch committed (the job may be done now). */
  | { state: "stepped"; job: JobRow }
  /** Nothing to do: the job is not runnable, or `atCursor` is behind it (a stale queue message). */
  | { state: "idle"; job: JobRow }
  /** Another runner holds the lease for `retryAfterMs` more. */
  | { state: "busy"; job: JobRow; retryAfterMs: number }
  /** The model was unreachable after its retries: nothing committed, the job stays running (resumable). */
  | { state: "interrupted"; job: JobRow; error: LlmError };

/** Takes the job's lease at `atCursor` (any cursor when not given). */
async function lease(db: D1Database, jobId: string, leaseMs: number, atCursor?: number): Promise<JobRow | null> {
  const now = Date.now();
  const row = await drizzle(db)
    .update(jobs)
    .set({ leaseUntil: now + leaseMs, status: "running" })
    .where(
      and(
        eq(jobs.id, jobId),
        inArray(jobs.status, [...RUNNABLE]),
        or(isNull(jobs.leaseUntil), lt(jobs.leaseUntil, now)),
        atCursor === undefined ? undefined : eq(jobs.cursor, atCursor),
      ),
    )
    .returning()
    .get();
  return row ?? null;
}

/** Ends a job's run: its status and error (unchanged where not given), the lease released. */
async function releaseJob(db: D1Database, jobId: string, change: Partial<Pick<JobRow, "status" | "error">>): Promise<void> {
  await drizzle(db)
    .update(jobs)
    .set({ ...change, leaseUntil: null, updatedAt: utcNow })
    .where(eq(jobs.id, jobId))
    .run();
}

/**
 * Runs one step of a job: leases it (at `atCursor` when given), processes the batch at its cursor
 * and commits. A record the kind cannot process (its output invalid, an error of its own) becomes
 * a reject with its reason; only an unreachable model interrupts the step.
 */
export async function stepJob(db: D1Database, jobId: string, context: JobContext, atCursor?: number): Promise<StepResult> {
  const job = await lease(db, jobId, context.leaseMs, atCursor);
  if (!job) {
    const current = await jobById(db, jobId);
    if (!current) throw new ProblemError(404, "not-found", `No job "${jobId}".`);
    const held = current.leaseUntil !== null && current.leaseUntil > Date.now();
    const sameStep = atCursor === undefined || atCursor === current.cursor;
    return held && sameStep && RUNNABLE.includes(current.status as "running")
      ? { state: "busy", job: current, retryAfterMs: current.leaseUntil! - Date.now() }
      : { state: "idle", job: current };
  }
  if (job.cursor >= job.total) {
    await releaseJob(db, job.id, { status: "done" });
    return { state: "idle", job: { ...job, status: "done" } };
  }
  const stop: Stop = { reason: null };
  // the step's model calls: at most the job's share, asked at the start and at each heartbeat; a
  // job whose kind says it makes none asks for no share
  const calls = createLimiter(1);
  const modelCalls = callsModel(job);
  const share = async () => {
    if (modelCalls) calls.resize(await context.modelCallShare(job));
  };
  const heartbeat = startHeartbeat(db, job, context.leaseMs, stop, share);
  try {
    await share();
    await step(db, job, context, stop, calls);
    return { state: "stepped", job: (await jobById(db, jobId))! };
  } catch (error) {
    if (stop.reason !== null) {
      // paused, cancelled or out of tokens: nothing of the step is committed; the budget pauses the
      // job itself (the other two already set its status); a lost lease is another runner's now
      if (stop.cause === "budget") await releaseJob(db, job.id, { status: "paused", error: stop.reason });
      else if (stop.cause === "status") await releaseJob(db, job.id, {});
      return { state: "idle", job: (await jobById(db, jobId))! };
    }
    if (error instanceof LlmError && error.kind === "budget") {
      // the owner's spend budget (src/lib/spend.ts) refused a call: waiting in the queue would only
      // burn retries, so the job pauses with the reason and its owner resumes it when there is room
      await releaseJob(db, job.id, { status: "paused", error: `the owner's model budget is spent: ${error.message}` });
      return { state: "idle", job: (await jobById(db, jobId))! };
    }
    if (error instanceof LlmError) {
      await releaseJob(db, job.id, { error: `interrupted: ${error.message}` });
      return { state: "interrupted", job: (await jobById(db, jobId))!, error };
    }
    await releaseJob(db, job.id, { status: "failed", error: error instanceof Error ? error.message : String(error) });
    return { state: "idle", job: (await jobById(db, jobId))! };
  } finally {
    heartbeat.stop();
  }
}

/**
 * Runs steps of a job until it is done, `maxBatches` steps ran, or `budgetMs` elapsed (the
 * `/run` route's loop). `busy` when another runner held the job from the start.
 */
export async function runJobSteps(
  db: D1Database,
  jobId: string,
  context: JobContext,
  { maxBatches, budgetMs }: { maxBatches: number; budgetMs: number },
): Promise<{ job: JobWithUsage; ran: number; busy: boolean; interrupted?: string }> {
  const started = Date.now();
  let ran = 0;
  let busy = false;
  let interrupted: string | undefined;
  while (ran < maxBatches && Date.now() - started < budgetMs) {
    const result = await stepJob(db, jobId, context);
    if (result.state !== "stepped") {
      busy = result.state === "busy" && ran === 0;
      if (result.state === "interrupted") interrupted = result.error.message;
      break;
    }
    ran++;
    if (result.job.status !== "running") break;
  }
  return { job: (await jobById(db, jobId))!, ran, busy, ...(interrupted ? { interrupted } : {}) };
}

/** Why a step must send no further model call: the token budget is spent, the job was paused or cancelled, or its lease was lost. */
interface Stop {
  reason: string | null;
  cause?: "budget" | "status" | "lease";
}

/**
 * Renews the lease every third of its length while the step runs, so a step slower than the lease
 * is never taken over; watches the job's status, so a pause or cancel stops the step's model
 * calls not yet sent; and then does `onBeat` (the step's model-call share follows the jobs
 * running now).
 */
function startHeartbeat(db: D1Database, job: JobRow, leaseMs: number, stop: Stop, onBeat: () => Promise<unknown>): { stop(): void } {
  let held = job.leaseUntil!;
  const beat = async () => {
    const until = Date.now() + leaseMs;
    const row = await drizzle(db)
      .update(jobs)
      .set({ leaseUntil: until })
      .where(and(eq(jobs.id, job.id), eq(jobs.leaseUntil, held)))
      .returning({ status: jobs.status })
      .get();
    if (!row) {
      stop.reason ??= "the job's lease was lost";
      stop.cause ??= "lease";
      return;
    }
    held = until;
    if (row.status !== "running") {
      stop.reason ??= `the job was ${row.status === "cancelled" ? "cancelled" : "paused"}`;
      stop.cause ??= "status";
      return;
    }
    await onBeat();
  };
  const timer = setInterval(() => {
    beat().catch((error) => console.error("job heartbeat failed", error));
  }, leaseMs / 3);
  return { stop: () => clearInterval(timer) };
}

/**
 * Adds each model call's tokens and each cache hit to `job_usage` as it happens (see the schema),
 * and keeps the step's own total for the token budget.
 */
function usageRecorder(
  db: D1Database,
  jobId: string,
  onTokens: (stepTokens: number) => void,
): UsageObserver & { flush(): Promise<unknown> } {
  const pending: Promise<unknown>[] = [];
  const orm = drizzle(db);
  let stepTokens = 0;
  const add = (calls: number, promptTokens: number, completionTokens: number, cacheHits: number) =>
    pending.push(
      orm
        .insert(jobUsage)
        .values({ jobId, calls, promptTokens, completionTokens, cacheHits })
        .onConflictDoUpdate({
          target: jobUsage.jobId,
          set: {
            calls: sql`${jobUsage.calls} + excluded.calls`,
            promptTokens: sql`${jobUsage.promptTokens} + excluded.prompt_tokens`,
            completionTokens: sql`${jobUsage.completionTokens} + excluded.completion_tokens`,
            cacheHits: sql`${jobUsage.cacheHits} + excluded.cache_hits`,
          },
        })
        .run(),
    );
  return {
    call: (usage: TokenUsage | undefined) => {
      // counts the provider layer validated (src/judge/llm/providers.ts: non-negative integers, capped)
      const prompt = usage?.prompt_tokens ?? 0;
      const completion = usage?.completion_tokens ?? 0;
      stepTokens += prompt + completion;
      add(1, prompt, completion, 0);
      onTokens(stepTokens);
    },
    cacheHits: (count) => add(0, 0, 0, count),
    flush: () => Promise.all(pending),
  };
}

/** The step's judge: the job owner's, reporting to `usage`, its calls limited by `calls`, sending none once `stop` says so. */
function stepJudge(context: JobContext, job: JobRow, usage: UsageObserver, stop: Stop, calls: Limiter): () => LlmJudge {
  let judge: LlmJudge | undefined;
  return () => {
    if (!context.llm) throw new LlmError("unavailable", "this runner has no LLM provider", { retryable: false });
    if (judge) return judge;
    const own = context.llm(jobOwner(job), usage);
    judge = {
      ...own,
      limiter: {
        get limit() {
          return calls.limit;
        },
        resize: (limit) => calls.resize(limit),
        run: (task) =>
          calls.run(() => {
            if (stop.reason !== null) throw new LlmError("unavailable", stop.reason, { retryable: false });
            return task();
          }),
      },
    };
    return judge;
  };
}

/** What a thrown error says, for a reject row. */
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function step(db: D1Database, job: JobRow, context: JobContext, stop: Stop, calls: Limiter) {
  const kind = jobKind(job.kind);
  if (!job.targetDatasetId) throw new Error("the job has no target dataset (it predates target ids and its target no longer resolves)");
  const target = (await datasetsById(db, [job.targetDatasetId])).get(job.targetDatasetId);
  if (!target) throw new Error("the job's target dataset no longer exists");
  if ("runUnits" in kind) return unitStep(db, job, kind, context, target);
  return recordStep(db, job, kind, context, stop, calls, target);
}

/**
 * The cursor advance from `job.cursor` to `end` with the step's counts, as a D1 statement; only
 * the runner whose step began at this cursor moves it. A pause or cancel that came while the step
 * was committing keeps its status: the finished step lands whole.
 */
function cursorAdvance(db: D1Database, job: JobRow, end: number, progress: BuildProgress): D1PreparedStatement {
  return d1Statement(
    db,
    drizzle(db)
      .update(jobs)
      .set({
        cursor: end,
        progress: JSON.stringify(progress),
        status: sql`CASE WHEN ${jobs.status} = 'running' THEN ${end >= job.total ? "done" : "running"} ELSE ${jobs.status} END`,
        error: null,
        leaseUntil: null,
        updatedAt: utcNow,
      })
      .where(and(eq(jobs.id, job.id), eq(jobs.cursor, job.cursor))),
  );
}

/** A unit kind's step: its units at the cursor, then the cursor advance (a repeated step writes the same units again). */
async function unitStep(db: D1Database, job: JobRow, kind: UnitJobKind, context: JobContext, dataset: DatasetRow) {
  const params = kind.params.parse(JSON.parse(job.params));
  const end = Math.min(job.total, job.cursor + params.batch_size);
  await kind.runUnits({ db, shards: context.shards, jobId: job.id, dataset, params }, job.cursor, end);
  const progress = JSON.parse(job.progress) as BuildProgress;
  const done = end - job.cursor;
  await cursorAdvance(db, job, end, { ...progress, processed: progress.processed + done, produced: progress.produced + done }).run();
}

/** What one source record became, as `job_record_outcomes` keeps it for the event stream. */
interface RecordOutcomeRow {
  position: number;
  source_record: string;
  outcome: "produced" | "duplicate" | "rejected";
  stage: string;
  tokens: number;
}

/** Upserts a step's record outcomes (one JSON parameter, however many records; a repeated step replaces its rows). */
const outcomeStatement = (db: D1Database, jobId: string, rows: RecordOutcomeRow[]) =>
  db
    .prepare(
      `INSERT INTO job_record_outcomes (job_id, position, source_record, outcome, stage, tokens)
       SELECT ?1, value ->> 'position', value ->> 'source_record', value ->> 'outcome', value ->> 'stage', value ->> 'tokens'
       FROM json_each(?2) WHERE true
       ON CONFLICT (job_id, position) DO UPDATE SET
         source_record = excluded.source_record, outcome = excluded.outcome, stage = excluded.stage, tokens = excluded.tokens`,
    )
    .bind(jobId, JSON.stringify(rows));

async function recordStep(
  db: D1Database,
  job: JobRow,
  kind: RecordJobKind,
  context: JobContext,
  stop: Stop,
  calls: Limiter,
  target: DatasetRow,
) {
  const params = kind.params.parse(JSON.parse(job.params));
  const progress = JSON.parse(job.progress) as BuildProgress;
  const end = Math.min(job.total, job.cursor + params.batch_size);

  const budget = params.token_budget;
  const spent = budget === undefined ? 0 : usageOf((await jobById(db, job.id))!).total_tokens;
  const overBudget = (stepTokens: number) => {
    if (budget !== undefined && spent + stepTokens >= budget && stop.reason === null) {
      stop.reason = `token budget reached: ${spent + stepTokens} of ${budget} tokens spent; resume with a larger token_budget`;
      stop.cause = "budget";
    }
  };
  overBudget(0);
  if (stop.reason !== null) throw new LlmError("unavailable", stop.reason, { retryable: false });
  const usage = usageRecorder(db, job.id, overBudget);

  const record = await kind.prepareStep({
    db,
    jobId: job.id,
    sourceId: job.datasetId,
    params,
    dimensionNames: context.dimensionNames,
  });
  const stepLlm = stepJudge(context, job, usage, stop, calls);
  const rows: SourceRow[] = [];
  for await (const row of recordsInRange(db, job.datasetId, job.cursor, end))
    rows.push({ id: row.id, position: row.position, record: toRecord(row) });
  // each record's judge is the step's (one limiter caps the step's model calls) reporting its
  // calls' tokens to the step's usage and to that record's own count
  const tokens = rows.map(() => 0);
  const recordLlm = (i: number) => () => {
    const judge = stepLlm();
    return {
      ...judge,
      usage: {
        call: (u: TokenUsage | undefined, model: string) => {
          tokens[i]! += (u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0);
          judge.usage?.call(u, model);
        },
        cacheHits: (n: number) => judge.usage?.cacheHits(n),
      },
    };
  };
  // records run concurrently (the judge's limiter caps the model calls); every one settles before
  // the step commits or gives up, so each finished call is in the cache for the resumed step. An
  // unreachable model (LlmError other than a malformed answer) interrupts the step; anything else
  // one record raises is that record's reject.
  const settled = await Promise.allSettled(
    rows.map(async (row, i): Promise<RecordOutcome> => {
      try {
        return await record(row, recordLlm(i));
      } catch (error) {
        if (stop.reason !== null) throw error;
        if (error instanceof LlmError && error.kind !== "malformed") {
          const named = new LlmError(error.kind, `record at position ${row.position} (${row.id}): ${error.message}`, error.options);
          named.attempts = error.attempts;
          throw named;
        }
        return {
          ok: false,
          stage: error instanceof LlmError ? "model answer" : "build",
          reason: error instanceof LlmError ? "the model's answer stayed malformed after its retries" : "the record could not be processed",
          detail: { error: messageOf(error) },
        };
      }
    }),
  );
  await usage.flush();
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;
  const outcomes = settled.map((s) => (s as PromiseFulfilledResult<RecordOutcome>).value);

  // Built records that are not valid records (65 constraints from a 64-constraint x1, ...) are
  // rejects too, with what was wrong: checked one by one, so one bad record spoils nothing else.
  const built = outcomes.flatMap((o, i) => (o.ok ? [{ line: rows[i]!.position, value: JSON.parse(canonicalJson(o.record)) }] : []));
  const first = await prepareRecords({ records: built, errors: [] }, context.dimensionNames, context.validateChecker);
  const invalid = new Map<number, string[]>();
  for (const e of first.errors) invalid.set(e.line!, [...(invalid.get(e.line!) ?? []), `${e.field}: ${e.message}`]);
  const valid = invalid.size ? built.filter((b) => !invalid.has(b.line)) : built;
  const { prepared, errors } = invalid.size
    ? await prepareRecords({ records: valid, errors: [] }, context.dimensionNames, context.validateChecker)
    : first;
  if (errors.length) throw new Error(`built records failed validation: ${JSON.stringify(errors.slice(0, 3))}`);

  // A record is produced when its id is new to the target (and to this step), else a duplicate:
  // known before the commit, so the counts and outcome rows commit with the records in one batch.
  const existing = await existingIds(db, target.id, [...new Set(prepared.map((p) => p.id))]);
  const duplicateAt = new Set<number>();
  const seen = new Set<string>();
  prepared.forEach((p, i) => {
    if (existing.has(p.id) || seen.has(p.id)) duplicateAt.add(valid[i]!.line);
    seen.add(p.id);
  });

  const orm = drizzle(db);
  // D1 statements (drizzle's queries, made plain by d1Statement): they commit in appendRecords' one
  // D1 batch together with the records, so a step is written whole or not at all
  const rejects: D1PreparedStatement[] = [];
  const outcomeRows: RecordOutcomeRow[] = [];
  outcomes.forEach((outcome, i) => {
    const row = rows[i]!;
    progress.processed++;
    const reject: RecordOutcome | null = !outcome.ok
      ? outcome
      : invalid.has(row.position)
        ? { ok: false, stage: "validate", reason: "the built record is not a valid record", detail: { errors: invalid.get(row.position) } }
        : null;
    const base = { position: row.position, source_record: row.id, tokens: tokens[i]! };
    if (reject === null || reject.ok) {
      if (outcome.ok) {
        progress.by_op[outcome.tag] = (progress.by_op[outcome.tag] ?? 0) + 1;
        const duplicate = duplicateAt.has(row.position);
        if (duplicate) progress.duplicates++;
        else progress.produced++;
        outcomeRows.push({ ...base, outcome: duplicate ? "duplicate" : "produced", stage: outcome.tag });
      }
      return;
    }
    progress.skipped[reject.reason] = (progress.skipped[reject.reason] ?? 0) + 1;
    outcomeRows.push({ ...base, outcome: "rejected", stage: reject.stage });
    // a repeated step (after a lost lease) replaces its row, as INSERT OR REPLACE would
    const values = { sourceRecord: row.id, stage: reject.stage, reason: reject.reason, detail: JSON.stringify(reject.detail ?? {}) };
    rejects.push(
      d1Statement(
        db,
        orm
          .insert(jobRejects)
          .values({ jobId: job.id, position: row.position, ...values })
          .onConflictDoUpdate({ target: [jobRejects.jobId, jobRejects.position], set: { ...values, createdAt: utcNow } }),
      ),
    );
  });
  await appendRecords(db, target, prepared, [...rejects, outcomeStatement(db, job.id, outcomeRows), cursorAdvance(db, job, end, progress)]);
}
