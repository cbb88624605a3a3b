/**
 * The judge API as the evaluator uses it: dataset rows, the benchmark score routes and the judge's
 * batch route. Works against any deployment (`npm start` locally, or a deployed Worker).
 * Transient failures (network errors, 429, 5xx other than 503) are retried with a backoff; every
 * other refusal is an ApiError carrying the problem's detail and first field error.
 */

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface DatasetRow {
  row_idx: number;
  id: string;
  row: Record<string, unknown>;
}

/** The API's per-request bounds (src/routes: judge.ts JUDGE_LIMITS, benchmarks.ts). */
export const API_LIMITS = { judgeItems: 1000, judgeLlmItems: 100, traceItems: 50, verifiableItems: 10_000, rowsPage: 100 } as const;

export class JudgeApi {
  readonly base: string;
  constructor(
    base: string,
    readonly key?: string,
    private readonly opts: { attempts?: number; backoffMs?: number } = {},
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  private headers(contentType?: string): Record<string, string> {
    const h: Record<string, string> = {};
    if (contentType) h["content-type"] = contentType;
    if (this.key) h.authorization = `Bearer ${this.key}`;
    return h;
  }

  /** One request with retries; resolves to the parsed JSON body. */
  async request<T>(method: "GET" | "POST", path: string, body?: string, contentType = "application/json"): Promise<T> {
    const attempts = this.opts.attempts ?? 4;
    const url = `${this.base}${path}`;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { method, headers: this.headers(body === undefined ? undefined : contentType), body });
      } catch (e) {
        if (attempt < attempts) {
          await sleep((this.opts.backoffMs ?? 500) * 2 ** (attempt - 1));
          continue;
        }
        throw new ApiError(`cannot reach the judge API at ${this.base}: ${String((e as Error).cause ?? (e as Error).message)}`);
      }
      const text = await res.text();
      if (res.ok) {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ApiError(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`, res.status);
        }
      }
      if ((res.status === 429 || (res.status >= 500 && res.status !== 503)) && attempt < attempts) {
        // a rate-limited anonymous caller is told when to come back (Retry-After, seconds)
        const retryAfterMs = Math.min(60, Number(res.headers.get("retry-after")) || 0) * 1000;
        await sleep(Math.max(retryAfterMs, (this.opts.backoffMs ?? 500) * 2 ** (attempt - 1)));
        continue;
      }
      let detail = text.slice(0, 300);
      try {
        const p = JSON.parse(text) as { detail?: string; errors?: { line?: number; field: string; message: string }[] };
        const first = p.errors?.[0];
        detail = `${p.detail ?? ""}${first ? ` (${first.line !== undefined ? `line ${first.line}: ` : ""}${first.field}: ${first.message})` : ""}`;
      } catch {
        // not a problem document
      }
      throw new ApiError(`${method} ${path}: ${res.status} ${detail}`, res.status);
    }
  }

  /** Every record of a dataset, in position order (pages of 100). */
  async rows(dataset: string): Promise<DatasetRow[]> {
    const out: DatasetRow[] = [];
    let after: number | null = -1;
    while (after !== null) {
      const page: { rows: DatasetRow[]; next_after: number | null } = await this.request(
        "GET",
        `/v1/datasets/${encodeURIComponent(dataset)}/rows?after=${after}&length=${API_LIMITS.rowsPage}`,
      );
      out.push(...page.rows);
      after = page.rows.length ? page.next_after : null;
    }
    return out;
  }

  /** POST an NDJSON body (one JSON value per line). */
  postNdjson<T>(path: string, lines: unknown[]): Promise<T> {
    return this.request<T>("POST", path, lines.map((l) => JSON.stringify(l)).join("\n") + "\n", "application/x-ndjson");
  }

  postJson<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, JSON.stringify(body));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
