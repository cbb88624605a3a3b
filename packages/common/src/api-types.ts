/**
 * The dataset and judge API's wire shapes as its clients see them (the routes' zod schemas in
 * src/routes define what the Worker sends; these mirror the fields clients read).
 */

/** One invalid field of a request, as a problem document names it. */
export interface FieldError {
  /** JSON-pointer-like path of the offending field, e.g. "body.scopes.0" or "query.length". */
  field: string;
  message: string;
  /** 1-based line number in an NDJSON body, when the error is about one line. */
  line?: number;
}

/** RFC 9457 problem details: every error the API returns has this shape (`application/problem+json`). */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
}

/** The API's per-request bounds: the routes (judge.ts, benchmarks.ts) enforce these, clients size their batches by them. */
export const API_LIMITS = { judgeItems: 1000, judgeLlmItems: 100, traceItems: 50, verifiableItems: 10_000, rowsPage: 100 } as const;

export interface Dataset {
  name: string;
  description: string;
  visibility: "public" | "private";
  record_count: number;
  created_at: string;
}

export interface DatasetVersion {
  version: number;
  record_count: number;
  shard_size: number;
  shard_count: number;
  description: string;
  created_at: string;
}

/** POST /v1/datasets/{name}/records */
export interface IngestResult {
  received: number;
  inserted: number;
  duplicates: number;
  record_count: number;
}

/** One stored record as GET /v1/datasets/{name}/rows pages them. */
export interface DatasetRow {
  row_idx: number;
  id: string;
  row: Record<string, unknown>;
}

export interface ManifestShard {
  index: number;
  name: string;
  records: number;
  lines: number;
  bytes: number;
  sha256: string;
  /** The shard's path on the API. */
  url: string;
}

/** GET /v1/datasets/{name}/versions/{version}/manifest */
export interface Manifest {
  dataset: string;
  version: number;
  format: string;
  record_count: number;
  line_count: number;
  shard_size: number;
  shard_count: number;
  shards: ManifestShard[];
}

export interface JobProgress {
  processed: number;
  produced: number;
  duplicates: number;
  by_op: Record<string, number>;
  skipped: Record<string, number>;
  usage?: { calls: number; prompt_tokens: number; completion_tokens: number; total_tokens: number; cache_hits: number };
}

/** A dataset job (build-quadruples, build-trace). */
export interface Job {
  id: string;
  kind: string;
  status: "pending" | "running" | "done" | "failed";
  params: Record<string, unknown>;
  cursor: number;
  total: number;
  progress: JobProgress;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** POST /v1/datasets/{name}/jobs/{id}/run */
export interface JobRun {
  job: Job;
  ran: number;
  /** Another runner holds the job: come back later. */
  busy: boolean;
  /** Why the run stopped early (the model unreachable after its retries); resumable. */
  interrupted?: string;
}
