import { LlmError, type LlmJudge, type UsageObserver } from "../judge/llm/index.ts";
import { ProblemError } from "../lib/problem.ts";
import { buildQuadrupleLlm, needsLlmPath } from "../pipelines/iopo.ts";
import { buildTraceRecord, loadDimensions, type TaxonomyDimension, type TraceParams } from "../pipelines/trace.ts";
import { buildQuadruple, type BuildOp } from "./quadruples.ts";
import { canonicalJson, type DatasetRecord } from "./records.ts";
import type { Principal } from "../lib/auth.ts";
import { createDataset, findDataset, visibleDataset, type DatasetRow } from "./store/access.ts";
import { appendRecords, prepareRecords, type CheckerValidator } from "./store/ingest.ts";
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

export interface JobRow {
  id: string;
  dataset_id: string;
  kind: string;
  status: "pending" | "running" | "done" | "failed";
  params: string;
  cursor: number;
  total: number;
  progress: string;
  error: string | null;
  lease_until: number | null;
  created_at: string;
  updated_at: string;
  /** From `job_usage` (null before the job's first model call). */
  usage_calls?: number | null;
  usage_prompt_tokens?: number | null;
  usage_completion_tokens?: number | null;
  usage_cache_hits?: number | null;
}

const JOB_COLUMNS =
  "jobs.*, u.calls AS usage_calls, u.prompt_tokens AS usage_prompt_tokens, u.completion_tokens AS usage_completion_tokens, u.cache_hits AS usage_cache_hits FROM jobs LEFT JOIN job_usage u ON u.job_id = jobs.id";

export interface BuildParams {
  target: string;
  ops: BuildOp[];
  seed: number;
  batch_size: number;
  max_candidates: number;
  /** Records with free-text constraints go through the LLM path (src/pipelines/iopo.ts). */
  llm?: boolean;
}

export interface BuildProgress {
  processed: number;
  produced: number;
  duplicates: number;
  /** Produced records by operation (build-quadruples) or by path (build-trace: "trace"). */
  by_op: Partial<Record<BuildOp, number>>;
  /** Rejected source records by reason: the reject table's counts (rows: `job_rejects`). */
  skipped: Record<string, number>;
}

const LEASE_MS = 60_000;
const POOL_LIMIT = 64;

export async function createJob(db: D1Database, dataset: DatasetRow, kind: string, params: BuildParams | TraceParams): Promise<JobRow> {
  const progress: BuildProgress = { processed: 0, produced: 0, duplicates: 0, by_op: {}, skipped: {} };
  return (await db
    .prepare("INSERT INTO jobs (id, dataset_id, kind, status, params, total, progress) VALUES (?, ?, ?, 'pending', ?, ?, ?) RETURNING *")
    .bind(crypto.randomUUID(), dataset.id, kind, JSON.stringify(params), dataset.recordCount, JSON.stringify(progress))
    .first<JobRow>())!;
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

export async function findJob(db: D1Database, dataset: DatasetRow, id: string): Promise<JobRow> {
  const row = await db.prepare(`SELECT ${JOB_COLUMNS} WHERE jobs.id = ? AND jobs.dataset_id = ?`).bind(id, dataset.id).first<JobRow>();
  if (!row)
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no job "${id}".`, [
      { field: "path.id", message: "unknown job" },
    ]);
  return row;
}

export async function listJobs(db: D1Database, dataset: DatasetRow): Promise<JobRow[]> {
  const { results } = await db
    .prepare(`SELECT ${JOB_COLUMNS} WHERE jobs.dataset_id = ? ORDER BY jobs.created_at DESC`)
    .bind(dataset.id)
    .all<JobRow>();
  return results;
}

export function presentJob(job: JobRow) {
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
        calls: job.usage_calls ?? 0,
        prompt_tokens: job.usage_prompt_tokens ?? 0,
        completion_tokens: job.usage_completion_tokens ?? 0,
        total_tokens: (job.usage_prompt_tokens ?? 0) + (job.usage_completion_tokens ?? 0),
        cache_hits: job.usage_cache_hits ?? 0,
      },
    },
    error: job.error,
    created_at: job.created_at,
    updated_at: job.updated_at,
  };
}

/** Takes the job's lease, or returns null when another runner holds it (or it is finished). */
async function lease(db: D1Database, jobId: string): Promise<JobRow | null> {
  const now = Date.now();
  return db
    .prepare(
      "UPDATE jobs SET lease_until = ?, status = 'running' WHERE id = ? AND status IN ('pending', 'running') AND (lease_until IS NULL OR lease_until < ?) RETURNING *",
    )
    .bind(now + LEASE_MS, jobId, now)
    .first<JobRow>();
}

async function taskPool(db: D1Database, datasetId: string, record: DatasetRecord): Promise<string[]> {
  if (record.kind !== "sft") return [];
  const { results } = await db
    .prepare(
      "SELECT payload FROM records WHERE dataset_id = ? AND kind = 'sft' AND json_extract(payload, '$.instruction.description') = ? LIMIT ?",
    )
    .bind(datasetId, record.instruction.description, POOL_LIMIT)
    .all<{ payload: string }>();
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
): Promise<{ job: JobRow; ran: number; busy: boolean; interrupted?: string }> {
  const started = Date.now();
  let ran = 0;
  while (ran < maxBatches && Date.now() - started < budgetMs) {
    const job = await lease(db, jobId);
    if (!job) {
      const current = await findJob(db, source, jobId);
      return { job: current, ran, busy: current.status === "running" && ran === 0 };
    }
    if (job.cursor >= job.total) {
      await db
        .prepare("UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?")
        .bind(job.id)
        .run();
      break;
    }
    try {
      await step(db, source, target, job, context);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof LlmError) {
        await db
          .prepare("UPDATE jobs SET error = ?, lease_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?")
          .bind(`interrupted: ${message}`, job.id)
          .run();
        return { job: await findJob(db, source, jobId), ran, busy: false, interrupted: message };
      }
      await db.prepare("UPDATE jobs SET status = 'failed', error = ?, lease_until = NULL WHERE id = ?").bind(message, job.id).run();
      break;
    }
    ran++;
  }
  const job = await findJob(db, source, jobId);
  if (job.status === "running" && job.cursor >= job.total) {
    await db.prepare("UPDATE jobs SET status = 'done', lease_until = NULL WHERE id = ?").bind(job.id).run();
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
  const add = (calls: number, prompt: number, completion: number, hits: number) =>
    pending.push(
      db
        .prepare(
          "INSERT INTO job_usage (job_id, calls, prompt_tokens, completion_tokens, cache_hits) VALUES (?, ?, ?, ?, ?) " +
            "ON CONFLICT (job_id) DO UPDATE SET calls = calls + excluded.calls, prompt_tokens = prompt_tokens + excluded.prompt_tokens, " +
            "completion_tokens = completion_tokens + excluded.completion_tokens, cache_hits = cache_hits + excluded.cache_hits",
        )
        .bind(jobId, calls, prompt, completion, hits)
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

  const built: { line: number; value: unknown }[] = [];
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
      rejects.push(
        db
          .prepare("INSERT OR REPLACE INTO job_rejects (job_id, position, source_record, stage, reason, detail) VALUES (?, ?, ?, ?, ?, ?)")
          .bind(job.id, row.position, row.id, outcome.stage, outcome.reason, JSON.stringify(outcome.detail ?? {})),
      );
    }
  });
  const { prepared, errors } = await prepareRecords({ records: built, errors: [] }, context.dimensionNames, context.validateChecker);
  if (errors.length) throw new Error(`built records failed validation: ${JSON.stringify(errors.slice(0, 3))}`);
  const advance = (inserted: number) =>
    db
      .prepare(
        "UPDATE jobs SET cursor = ?, progress = ?, status = ?, error = NULL, lease_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND cursor = ?",
      )
      .bind(
        end,
        JSON.stringify({
          ...progress,
          produced: progress.produced + inserted,
          duplicates: progress.duplicates + (prepared.length - inserted),
        }),
        end >= job.total ? "done" : "running",
        job.id,
        job.cursor,
      );
  // The inserted count is only known inside appendRecords; count fresh ids first so the cursor
  // advance carries exact numbers in the same batch.
  const existing = await countExisting(
    db,
    target.id,
    prepared.map((p) => p.id),
  );
  const fresh = new Set(prepared.map((p) => p.id)).size - existing;
  await appendRecords(db, target, prepared, [...rejects, advance(fresh)]);
}

async function countExisting(db: D1Database, datasetId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const row = await db
    .prepare("SELECT count(*) AS n FROM records WHERE dataset_id = ? AND id IN (SELECT value FROM json_each(?))")
    .bind(datasetId, JSON.stringify([...new Set(ids)]))
    .first<{ n: number }>();
  return row?.n ?? 0;
}
