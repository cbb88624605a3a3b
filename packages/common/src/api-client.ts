/**
 * The one client of the dataset and judge API, for the CLI, the trainer and the demo: a base URL
 * and an optional key, JSON and NDJSON bodies, every refusal one ApiError carrying the problem
 * document's status, detail and field errors. Retries are bounded: a 429, 409 or 503 that says
 * when to come back (Retry-After, seconds) is retried after that long (the request was not done:
 * a rate limit, a write lost to concurrent writers, a busy service); network failures, 5xx and a
 * 429 without Retry-After are retried with exponential backoff only when the request is idempotent.
 * Uses fetch only, so it runs in Node, browsers and Workers alike.
 */
import {
  API_LIMITS,
  type CreateDataset,
  type CreateVersion,
  type DatasetDetail,
  type PagedRecord,
  type DatasetStatistics,
  type DatasetVersion,
  type FieldError,
  type IngestResult,
  type Job,
  type JobEvent,
  type JobRun,
  type Manifest,
  type ProblemBody,
  type RowsPage,
  type SearchPage,
  type RunJob,
  type ShardFormat,
} from "./api-types.ts";

/** A request the API refused (`status` set) or never answered (`status` undefined). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    /** The HTTP status; undefined when the API could not be reached. */
    readonly status?: number,
    /** The problem document's `detail` (or the start of a body that is not one; or why the API could not be reached). */
    readonly detail?: string,
    /** The problem document's field errors (with the NDJSON line, when about one line). */
    readonly fields: readonly FieldError[] = [],
  ) {
    super(message);
  }

  /** "detail (line 2: field: message)": the detail and the first field error, for one-line messages. */
  summary(linePrefix = "line "): string {
    const first = this.fields[0];
    return `${this.detail ?? ""}${first ? ` (${first.line !== undefined ? `${linePrefix}${first.line}: ` : ""}${first.field}: ${first.message})` : ""}`;
  }
}

export interface ApiClientOptions {
  /** Bearer key; anonymous without one. */
  key?: string;
  /** Tries per request, the first included (default 4). */
  attempts?: number;
  /** First backoff of a transient failure, doubled each time (default 500 ms). */
  backoffMs?: number;
  /** The longest Retry-After honoured; a longer one is returned as the error (default 60 s). */
  maxRetryAfterMs?: number;
}

export interface RequestOptions {
  /** A JSON body. */
  json?: unknown;
  /** An NDJSON body: one JSON value per line. */
  ndjson?: readonly unknown[];
  /** Retried after network failures and 5xx too (default: GET only). */
  idempotent?: boolean;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

const RETRY_AFTER_STATUSES = new Set([409, 429, 503]);

export class ApiClient {
  /** The API's origin (and path prefix), without a trailing slash. */
  readonly base: string;
  readonly key?: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(base: string, options: ApiClientOptions = {}) {
    this.base = base.replace(/\/+$/, "");
    this.key = options.key;
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.backoffMs = options.backoffMs ?? 500;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  }

  /** The successful response, its body unread (a shard streams from `body`); refusals throw ApiError. */
  async send(method: Method, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    let body: string | undefined;
    if (options.ndjson !== undefined) {
      headers["content-type"] = "application/x-ndjson";
      body = options.ndjson.map((line) => JSON.stringify(line)).join("\n") + "\n";
    } else if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const idempotent = options.idempotent ?? method === "GET";
    const url = `${this.base}${path}`;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.attempts;
      const backoff = this.backoffMs * 2 ** (attempt - 1);
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body });
      } catch (error) {
        if (idempotent && !last) {
          await sleep(backoff);
          continue;
        }
        const reason = String((error as Error).cause ?? (error as Error).message);
        throw new ApiError(`cannot reach the API at ${new URL(url).origin}: ${reason}`, undefined, reason);
      }
      if (res.ok) return res;
      const retryAfterMs = retryAfter(res.headers.get("retry-after"));
      if (!last && retryAfterMs !== undefined && retryAfterMs <= this.maxRetryAfterMs && RETRY_AFTER_STATUSES.has(res.status)) {
        await res.body?.cancel();
        await sleep(retryAfterMs);
        continue;
      }
      if (!last && ((res.status === 429 && retryAfterMs === undefined) || (idempotent && res.status >= 500 && res.status !== 503))) {
        await res.body?.cancel();
        await sleep(backoff);
        continue;
      }
      throw await refusal(method, path, res);
    }
  }

  /** A request whose answer is JSON. */
  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`, res.status);
    }
  }

  /** A GET whose body is read as it arrives (a shard's NDJSON, which may be large). */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send("GET", path);
    return res.body ?? new ReadableStream({ start: (controller) => controller.close() });
  }

  getJson<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  postJson<T>(path: string, json: unknown, options: Omit<RequestOptions, "json" | "ndjson"> = {}): Promise<T> {
    return this.request<T>("POST", path, { ...options, json });
  }

  postNdjson<T>(path: string, lines: readonly unknown[], options: Omit<RequestOptions, "json" | "ndjson"> = {}): Promise<T> {
    return this.request<T>("POST", path, { ...options, ndjson: lines });
  }

  // ---- the dataset API ----

  /** Every record of a dataset, in position order (pages of API_LIMITS.rowsPage). */
  async datasetRows(dataset: string): Promise<PagedRecord[]> {
    const out: PagedRecord[] = [];
    let after: number | null = -1;
    while (after !== null) {
      const page: RowsPage = await this.getJson(`${datasetPath(dataset)}/rows?after=${after}&length=${API_LIMITS.rowsPage}`);
      out.push(...page.rows);
      after = page.rows.length ? page.next_after : null;
    }
    return out;
  }

  /** A dataset with its statistics and versions. */
  dataset(name: string): Promise<DatasetDetail> {
    return this.getJson<DatasetDetail>(datasetPath(name));
  }

  /** A page of the dataset's records matching every term of `q` (GET .../search). */
  search(dataset: string, q: string, page: { offset?: number; length?: number } = {}): Promise<SearchPage> {
    const query = new URLSearchParams({ q, offset: String(page.offset ?? 0), length: String(page.length ?? API_LIMITS.rowsPage) });
    return this.getJson<SearchPage>(`${datasetPath(dataset)}/search?${query}`);
  }

  /** Statistics of the dataset's records, or of one frozen version's. */
  statistics(dataset: string, version?: number | "latest"): Promise<DatasetStatistics> {
    return this.getJson<DatasetStatistics>(`${datasetPath(dataset)}${version === undefined ? "" : `/versions/${version}`}/statistics`);
  }

  /** The dataset, created (empty) when it does not exist yet. */
  async ensureDataset(name: string, create: Omit<CreateDataset, "name"> = {}): Promise<void> {
    try {
      await this.dataset(name);
      return;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    try {
      await this.postJson("/v1/datasets", {
        name,
        description: create.description ?? "",
        visibility: create.visibility ?? "public",
      } satisfies CreateDataset);
    } catch (error) {
      // created meanwhile by someone else: as good
      if (!(error instanceof ApiError && error.status === 409)) throw error;
    }
  }

  async versions(dataset: string): Promise<DatasetVersion[]> {
    return (await this.getJson<{ versions: DatasetVersion[] }>(`${datasetPath(dataset)}/versions`)).versions;
  }

  /** Freeze the dataset's records as a new version. */
  createVersion(dataset: string, options: CreateVersion = {}): Promise<DatasetVersion> {
    return this.postJson<DatasetVersion>(`${datasetPath(dataset)}/versions`, options);
  }

  /** Add records (content-addressed, so a repeated request is harmless). */
  addRecords(dataset: string, records: readonly unknown[]): Promise<IngestResult> {
    return this.postNdjson<IngestResult>(`${datasetPath(dataset)}/records`, records, { idempotent: true });
  }

  /** A version's manifest in `format` (`version`: a number or "latest"). */
  manifest(dataset: string, version: string | number, format: ShardFormat): Promise<Manifest> {
    return this.getJson<Manifest>(`${datasetPath(dataset)}/versions/${version}/manifest?format=${encodeURIComponent(format)}`);
  }

  /** A job over `dataset`'s records. */
  job(dataset: string, id: string): Promise<Job> {
    return this.getJson<Job>(`${datasetPath(dataset)}/jobs/${encodeURIComponent(id)}`);
  }

  /** Start a job (`kind`: build-quadruples, build-trace) over `dataset`. */
  createJob(dataset: string, kind: string, params: Record<string, unknown>): Promise<Job> {
    return this.postJson<Job>(`${datasetPath(dataset)}/jobs/${kind}`, params);
  }

  /** Pause, resume (optionally with a new token budget) or cancel a job. */
  controlJob(dataset: string, id: string, action: "pause" | "resume" | "cancel", body: { token_budget?: number } = {}): Promise<Job> {
    return this.postJson<Job>(`${datasetPath(dataset)}/jobs/${encodeURIComponent(id)}/${action}`, body);
  }

  /** A job's live events (NDJSON) until it stops moving or `timeoutS` passed. */
  async *jobEvents(dataset: string, id: string, timeoutS = 60): AsyncGenerator<JobEvent> {
    const body = await this.stream(`${datasetPath(dataset)}/jobs/${encodeURIComponent(id)}/events?timeout_s=${timeoutS}`);
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line) as JobEvent;
      }
    }
  }

  /** Run a job for at most `maxBatches` batches. */
  runJob(dataset: string, id: string, maxBatches: number): Promise<JobRun> {
    return this.postJson<JobRun>(`${datasetPath(dataset)}/jobs/${encodeURIComponent(id)}/run`, {
      max_batches: maxBatches,
    } satisfies RunJob);
  }
}

/** `/v1/datasets/<name>` */
export const datasetPath = (name: string) => `/v1/datasets/${encodeURIComponent(name)}`;

/** Retry-After in milliseconds, from delay-seconds (the form the API sends); undefined when absent or not a number. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return undefined;
  return Number(header) * 1000;
}

async function refusal(method: Method, path: string, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let detail = text.slice(0, 300);
  let fields: FieldError[] = [];
  try {
    const problem = JSON.parse(text) as Partial<ProblemBody>;
    if (problem && typeof problem === "object") {
      detail = typeof problem.detail === "string" ? problem.detail : "";
      fields = Array.isArray(problem.errors) ? problem.errors : [];
    }
  } catch {
    // not a problem document: the start of the body is the detail
  }
  const error = new ApiError("", res.status, detail, fields);
  error.message = `${method} ${path}: ${res.status} ${error.summary()}`;
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
