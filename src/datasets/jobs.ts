import { ProblemError } from "../lib/problem";
import { buildQuadruple, type BuildOp } from "./quadruples";
import { canonicalJson, type DatasetRecord } from "./records";
import { appendRecords, prepareRecords, recordsInRange, toRecord, type CheckerValidator, type DatasetRow } from "./store";

/**
 * Jobs over a dataset, driven by a cursor in D1: each step processes the next batch of source
 * positions and commits its output together with the cursor advance in one D1 batch. A step that
 * dies writes nothing; the next step redoes it. Output records are content-addressed and built
 * deterministically, so even a step repeated after a lost lease adds nothing twice. Clients drive
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
}

export interface BuildParams {
  target: string;
  ops: BuildOp[];
  seed: number;
  batch_size: number;
  max_candidates: number;
}

export interface BuildProgress {
  processed: number;
  produced: number;
  duplicates: number;
  by_op: Partial<Record<BuildOp, number>>;
  skipped: Record<string, number>;
}

const LEASE_MS = 60_000;
const POOL_LIMIT = 64;

export async function createJob(db: D1Database, dataset: DatasetRow, kind: string, params: BuildParams): Promise<JobRow> {
  const progress: BuildProgress = { processed: 0, produced: 0, duplicates: 0, by_op: {}, skipped: {} };
  return (await db
    .prepare("INSERT INTO jobs (id, dataset_id, kind, status, params, total, progress) VALUES (?, ?, ?, 'pending', ?, ?, ?) RETURNING *")
    .bind(crypto.randomUUID(), dataset.id, kind, JSON.stringify(params), dataset.record_count, JSON.stringify(progress))
    .first<JobRow>())!;
}

export async function findJob(db: D1Database, dataset: DatasetRow, id: string): Promise<JobRow> {
  const row = await db.prepare("SELECT * FROM jobs WHERE id = ? AND dataset_id = ?").bind(id, dataset.id).first<JobRow>();
  if (!row) throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no job "${id}".`, [{ field: "path.id", message: "unknown job" }]);
  return row;
}

export async function listJobs(db: D1Database, dataset: DatasetRow): Promise<JobRow[]> {
  const { results } = await db.prepare("SELECT * FROM jobs WHERE dataset_id = ? ORDER BY created_at DESC").bind(dataset.id).all<JobRow>();
  return results;
}

export function presentJob(job: JobRow) {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    params: JSON.parse(job.params) as BuildParams,
    cursor: job.cursor,
    total: job.total,
    progress: JSON.parse(job.progress) as BuildProgress,
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
  const sameInput = (other: { instruction: { input?: string | null } }) => (other.instruction.input ?? null) === (record.instruction.input ?? null);
  return results
    .map((r) => JSON.parse(r.payload) as { instruction: { input?: string | null }; response: string })
    .filter(sameInput)
    .map((r) => r.response);
}

/**
 * Runs steps of a build job until it is done, `maxBatches` steps ran, or `budgetMs` elapsed.
 * Returns the job as it stands (or as found, when another runner holds the lease).
 */
export async function runJobSteps(
  db: D1Database,
  source: DatasetRow,
  target: DatasetRow,
  jobId: string,
  validateChecker: CheckerValidator,
  dimensionNames: Map<string, string>,
  { maxBatches, budgetMs }: { maxBatches: number; budgetMs: number },
): Promise<{ job: JobRow; ran: number; busy: boolean }> {
  const started = Date.now();
  let ran = 0;
  while (ran < maxBatches && Date.now() - started < budgetMs) {
    const job = await lease(db, jobId);
    if (!job) {
      const current = await findJob(db, source, jobId);
      return { job: current, ran, busy: current.status === "running" && ran === 0 };
    }
    if (job.cursor >= job.total) {
      await db.prepare("UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?").bind(job.id).run();
      break;
    }
    try {
      await step(db, source, target, job, validateChecker, dimensionNames);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
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

async function step(
  db: D1Database,
  source: DatasetRow,
  target: DatasetRow,
  job: JobRow,
  validateChecker: CheckerValidator,
  dimensionNames: Map<string, string>,
) {
  const params = JSON.parse(job.params) as BuildParams;
  const progress = JSON.parse(job.progress) as BuildProgress;
  const end = Math.min(job.total, job.cursor + params.batch_size);
  const built: { line: number; value: unknown }[] = [];
  for await (const row of recordsInRange(db, source.id, job.cursor, end)) {
    const record = toRecord(row);
    const pool = await taskPool(db, source.id, record);
    const outcome = buildQuadruple(row.id, record, pool, { ops: params.ops, seed: params.seed, maxCandidates: params.max_candidates });
    progress.processed++;
    if (outcome.ok) {
      built.push({ line: row.position, value: JSON.parse(canonicalJson(outcome.record)) });
      progress.by_op[outcome.op] = (progress.by_op[outcome.op] ?? 0) + 1;
    } else {
      progress.skipped[outcome.reason] = (progress.skipped[outcome.reason] ?? 0) + 1;
    }
  }
  const { prepared, errors } = await prepareRecords({ records: built, errors: [] }, dimensionNames, validateChecker);
  if (errors.length) throw new Error(`built records failed validation: ${JSON.stringify(errors.slice(0, 3))}`);
  const advance = (inserted: number) =>
    db
      .prepare(
        "UPDATE jobs SET cursor = ?, progress = ?, status = ?, lease_until = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND cursor = ?",
      )
      .bind(end, JSON.stringify({ ...progress, produced: progress.produced + inserted, duplicates: progress.duplicates + (prepared.length - inserted) }), end >= job.total ? "done" : "running", job.id, job.cursor);
  // The inserted count is only known inside appendRecords; count fresh ids first so the cursor
  // advance carries exact numbers in the same batch.
  const existing = await countExisting(db, target.id, prepared.map((p) => p.id));
  const fresh = new Set(prepared.map((p) => p.id)).size - existing;
  await appendRecords(db, target, prepared, [advance(fresh)]);
}

async function countExisting(db: D1Database, datasetId: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const row = await db
    .prepare("SELECT count(*) AS n FROM records WHERE dataset_id = ? AND id IN (SELECT value FROM json_each(?))")
    .bind(datasetId, JSON.stringify([...new Set(ids)]))
    .first<{ n: number }>();
  return row?.n ?? 0;
}
