import { and, asc, count, desc, eq, getTableColumns, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { JobProgress } from "@iopo/common";
import { d1Statement } from "../db/d1.ts";
import { jobRejects, jobUsage, jobs, records, utcNow } from "../db/schema.ts";
import { LlmError, type LlmJudge, type UsageObserver } from "../judge/llm/index.ts";
import { ProblemError } from "../lib/problem.ts";
import { buildQuadrupleLlm, needsLlmPath } from "../pipelines/iopo.ts";
import { buildTraceRecord, loadDimensions, type TaxonomyDimension, type TraceParams } from "../pipelines/trace.ts";
import { buildQuadruple, type BuildOp } from "./quadruples.ts";
import { canonicalJson, type DatasetRecord } from "./records.ts";
import type { Principal } from "../lib/auth.ts";
import { createDataset, findDataset, visibleDataset, type DatasetRow } from "./store/access.ts";
import { appendRecords, existingIds, prepareRecords, type CheckerValidator } from "./store/ingest.ts";
import { recordsInRange, toRecord } from "./store/rows.ts";

/**
 * Jobs over a dataset (the rule-based and LLM quadruple builders, TRACE construction), driven by a
 * cursor in D1: each step processes the next batch of source positions and commits its output, its
 * reject rows and the cursor advance in one D1 batch. A step that dies writes nothing; the next
 * step redoes it (an LLM step finds its finished calls in the cache). Output records are
 * content-addressed and built deterministically, so even a step repeated after a lost lease adds
 * nothing twice. Clients drive
 * steps (`POST .../jobs/{id}/run`, or `npx iopo build-quadruples`); a Cloudflare Queue consumer
 * could call the same `runJobSteps`, but the cursor alone already gives resumability, works the
 * same locally and deployed, and keeps each step inside one request's limits.
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

export interface BuildParams {
  target: string;
  ops: BuildOp[];
  seed: number;
  batch_size: number;
  max_candidates: number;
  /** Records with free-text constraints go through the LLM path (src/pipelines/iopo.ts). */
  llm?: boolean;
}

/** A job's stored progress: the wire's JobProgress less `usage` (kept in `job_usage`, joined when presented); `skipped` counts the `job_rejects` rows by reason. */
export type BuildProgress = Omit<JobProgress, "usage">;

const LEASE_MS = 60_000;
const POOL_LIMIT = 64;

export async function createJob(
  db: D1Database,
  dataset: DatasetRow,
  kind: string,
  params: BuildParams | TraceParams,
): Promise<JobWithUsage> {
  const progress: BuildProgress = { processed: 0, produced: 0, duplicates: 0, by_op: {}, skipped: {} };
  const job = await drizzle(db)
    .insert(jobs)
    .values({
      id: crypto.randomUUID(),
      datasetId: dataset.id,
      kind,
      status: "pending",
      params: JSON.stringify(params),
      total: dataset.recordCount,
      progress: JSON.stringify(progress),
    })
    .returning()
    .get();
  return { ...job, usage: null };
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

export async function findJob(db: D1Database, dataset: DatasetRow, id: string): Promise<JobWithUsage> {
  const row = await selectJobs(db)
    .where(and(eq(jobs.id, id), eq(jobs.datasetId, dataset.id)))
    .get();
  if (!row)
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no job "${id}".`, [
      { field: "path.id", message: "unknown job" },
    ]);
  return row;
}

export async function listJobs(db: D1Database, dataset: DatasetRow): Promise<JobWithUsage[]> {
  return selectJobs(db).where(eq(jobs.datasetId, dataset.id)).orderBy(desc(jobs.createdAt)).all();
}

/** A job as the API shows it (snake_case, the JSON columns parsed, usage zero before any call). */
export function presentJob(job: JobWithUsage) {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    params: JSON.parse(job.params) as BuildParams | TraceParams,
    cursor: job.cursor,
    total: job.total,
    progress: {
      ...(JSON.parse(job.progress) as BuildProgress),
      usage: {
        calls: job.usage?.calls ?? 0,
        prompt_tokens: job.usage?.promptTokens ?? 0,
        completion_tokens: job.usage?.completionTokens ?? 0,
        total_tokens: (job.usage?.promptTokens ?? 0) + (job.usage?.completionTokens ?? 0),
        cache_hits: job.usage?.cacheHits ?? 0,
      },
    },
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

/** Takes the job's lease, or returns null when another runner holds it (or it is finished). */
async function lease(db: D1Database, jobId: string): Promise<JobRow | null> {
  const now = Date.now();
  const row = await drizzle(db)
    .update(jobs)
    .set({ leaseUntil: now + LEASE_MS, status: "running" })
    .where(and(eq(jobs.id, jobId), inArray(jobs.status, ["pending", "running"]), or(isNull(jobs.leaseUntil), lt(jobs.leaseUntil, now))))
    .returning()
    .get();
  return row ?? null;
}

/** Ends a job's run: its status and error (unchanged where not given), the lease released. */
async function releaseJob(
  db: D1Database,
  jobId: string,
  change: Partial<Pick<JobRow, "status" | "error">>,
  { touch }: { touch: boolean },
): Promise<void> {
  await drizzle(db)
    .update(jobs)
    .set({ ...change, leaseUntil: null, ...(touch ? { updatedAt: utcNow } : {}) })
    .where(eq(jobs.id, jobId))
    .run();
}

async function taskPool(db: D1Database, datasetId: string, record: DatasetRecord): Promise<string[]> {
  if (record.kind !== "sft") return [];
  const results = await drizzle(db)
    .select({ payload: records.payload })
    .from(records)
    .where(
      and(
        eq(records.datasetId, datasetId),
        eq(records.kind, "sft"),
        eq(sql`json_extract(${records.payload}, '$.instruction.description')`, record.instruction.description),
      ),
    )
    .limit(POOL_LIMIT)
    .all();
  const sameInput = (other: { instruction: { input?: string | null } }) =>
    (other.instruction.input ?? null) === (record.instruction.input ?? null);
  return results
    .map((r) => JSON.parse(r.payload) as { instruction: { input?: string | null }; response: string })
    .filter(sameInput)
    .map((r) => r.response);
}

/** What a job's step needs besides D1: record validation, and a per-step LLM judge for LLM jobs. */
export interface JobContext {
  validateChecker: CheckerValidator;
  dimensionNames: Map<string, string>;
  /** A judge whose calls report to `usage` (each step gets its own, with its own concurrency cap). */
  llm?: (usage: UsageObserver) => LlmJudge;
}

/**
 * Runs steps of a job until it is done, `maxBatches` steps ran, or `budgetMs` elapsed. Returns
 * the job as it stands (or as found, when another runner holds the lease). A model that stays
 * unreachable after its retries interrupts the job instead of failing it: nothing of the step is
 * committed (its finished calls are cached), `error` says why, and the next run resumes there.
 */
export async function runJobSteps(
  db: D1Database,
  source: DatasetRow,
  target: DatasetRow,
  jobId: string,
  context: JobContext,
  { maxBatches, budgetMs }: { maxBatches: number; budgetMs: number },
): Promise<{ job: JobWithUsage; ran: number; busy: boolean; interrupted?: string }> {
  const started = Date.now();
  let ran = 0;
  while (ran < maxBatches && Date.now() - started < budgetMs) {
    const job = await lease(db, jobId);
    if (!job) {
      const current = await findJob(db, source, jobId);
      return { job: current, ran, busy: current.status === "running" && ran === 0 };
    }
    if (job.cursor >= job.total) {
      await releaseJob(db, job.id, { status: "done" }, { touch: true });
      break;
    }
    try {
      await step(db, source, target, job, context);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof LlmError) {
        await releaseJob(db, job.id, { error: `interrupted: ${message}` }, { touch: true });
        return { job: await findJob(db, source, jobId), ran, busy: false, interrupted: message };
      }
      await releaseJob(db, job.id, { status: "failed", error: message }, { touch: false });
      break;
    }
    ran++;
  }
  const job = await findJob(db, source, jobId);
  if (job.status === "running" && job.cursor >= job.total) {
    await releaseJob(db, job.id, { status: "done" }, { touch: false });
    return { job: await findJob(db, source, jobId), ran, busy: false };
  }
  return { job, ran, busy: false };
}

/** One source record's result: a record for the target, or why there is none (a reject row). */
export type RecordOutcome =
  | { ok: true; record: DatasetRecord; tag: string }
  | { ok: false; reason: string; stage: string; detail?: unknown };

/** Adds each model call's tokens and each cache hit to `job_usage` as it happens (see the schema). */
function usageRecorder(db: D1Database, jobId: string): UsageObserver & { flush(): Promise<unknown> } {
  const pending: Promise<unknown>[] = [];
  const orm = drizzle(db);
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
    call: (usage) => add(1, usage?.prompt_tokens ?? 0, usage?.completion_tokens ?? 0, 0),
    cacheHits: (count) => add(0, 0, 0, count),
    flush: () => Promise.all(pending),
  };
}

async function step(db: D1Database, source: DatasetRow, target: DatasetRow, job: JobRow, context: JobContext) {
  const params = JSON.parse(job.params) as BuildParams & TraceParams;
  const progress = JSON.parse(job.progress) as BuildProgress;
  const end = Math.min(job.total, job.cursor + params.batch_size);
  const usage = usageRecorder(db, job.id);
  let judge: LlmJudge | undefined;
  const llm = () => {
    if (!context.llm) throw new LlmError("unavailable", "this runner has no LLM provider", { retryable: false });
    return (judge ??= context.llm(usage));
  };
  const dimensions: TaxonomyDimension[] = job.kind === "build-trace" ? await loadDimensions(db) : [];
  const rows: { id: string; position: number; record: DatasetRecord }[] = [];
  for await (const row of recordsInRange(db, source.id, job.cursor, end))
    rows.push({ id: row.id, position: row.position, record: toRecord(row) });
  // records run concurrently (the judge's limiter caps the model calls); every one settles before
  // the step commits or gives up, so each finished call is in the cache for the resumed step
  const settled = await Promise.allSettled(
    rows.map(async (row): Promise<RecordOutcome> => {
      if (job.kind === "build-trace") {
        return buildTraceRecord(llm(), row.id, row.record, {
          ...params,
          jobId: job.id,
          dimensions,
          dimensionNames: context.dimensionNames,
        });
      }
      if (params.llm && needsLlmPath(row.record)) {
        return buildQuadrupleLlm(llm(), row.id, row.record, {
          ops: params.ops,
          seed: params.seed,
          jobId: job.id,
          dimensionNames: context.dimensionNames,
        });
      }
      const pool = await taskPool(db, source.id, row.record);
      const outcome = buildQuadruple(row.id, row.record, pool, {
        ops: params.ops,
        seed: params.seed,
        maxCandidates: params.max_candidates,
      });
      return outcome.ok ? { ok: true, record: outcome.record, tag: outcome.op } : { ok: false, reason: outcome.reason, stage: "rule" };
    }),
  );
  await usage.flush();
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;

  const orm = drizzle(db);
  const built: { line: number; value: unknown }[] = [];
  // D1 statements (drizzle's queries, made plain by d1Statement): they commit in appendRecords' one
  // D1 batch together with the records, so a step is written whole or not at all
  const rejects: D1PreparedStatement[] = [];
  settled.forEach((s, i) => {
    const outcome = (s as PromiseFulfilledResult<RecordOutcome>).value;
    const row = rows[i]!;
    progress.processed++;
    if (outcome.ok) {
      built.push({ line: row.position, value: JSON.parse(canonicalJson(outcome.record)) });
      progress.by_op[outcome.tag as BuildOp] = (progress.by_op[outcome.tag as BuildOp] ?? 0) + 1;
    } else {
      progress.skipped[outcome.reason] = (progress.skipped[outcome.reason] ?? 0) + 1;
      // a repeated step (after a lost lease) replaces its row, as INSERT OR REPLACE would
      const reject = { sourceRecord: row.id, stage: outcome.stage, reason: outcome.reason, detail: JSON.stringify(outcome.detail ?? {}) };
      rejects.push(
        d1Statement(
          db,
          orm
            .insert(jobRejects)
            .values({ jobId: job.id, position: row.position, ...reject })
            .onConflictDoUpdate({ target: [jobRejects.jobId, jobRejects.position], set: { ...reject, createdAt: utcNow } }),
        ),
      );
    }
  });
  const { prepared, errors } = await prepareRecords({ records: built, errors: [] }, context.dimensionNames, context.validateChecker);
  if (errors.length) throw new Error(`built records failed validation: ${JSON.stringify(errors.slice(0, 3))}`);
  // The cursor advance; only the runner whose step began at this cursor moves it.
  const advance = (inserted: number) =>
    d1Statement(
      db,
      orm
        .update(jobs)
        .set({
          cursor: end,
          progress: JSON.stringify({
            ...progress,
            produced: progress.produced + inserted,
            duplicates: progress.duplicates + (prepared.length - inserted),
          }),
          status: end >= job.total ? "done" : "running",
          error: null,
          leaseUntil: null,
          updatedAt: utcNow,
        })
        .where(and(eq(jobs.id, job.id), eq(jobs.cursor, job.cursor))),
    );
  // The inserted count is only known inside appendRecords; count fresh ids first so the cursor
  // advance carries exact numbers in the same batch.
  const ids = new Set(prepared.map((p) => p.id));
  const fresh = ids.size - (await existingIds(db, target.id, [...ids])).size;
  await appendRecords(db, target, prepared, [...rejects, advance(fresh)]);
}
