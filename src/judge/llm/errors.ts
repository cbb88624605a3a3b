/** Why an LLM call failed, and whether trying again may help. */
export type LlmErrorKind =
  /** non-2xx HTTP answer */
  | "http"
  /** the attempt exceeded LLM_TIMEOUT_MS */
  | "timeout"
  /** the request never got an answer (connection refused, DNS, reset), or the binding threw */
  | "network"
  /** the answer was not what was asked for: not JSON, schema mismatch, a constraint missing */
  | "malformed"
  /** the judge is not configured */
  | "unavailable"
  /** the caller's model-call budget is spent: the call was not made (never retried; the request ends with a 429) */
  | "budget"
  /** the client went away: calls not yet sent are not made */
  | "cancelled";

export class LlmError extends Error {
  override readonly name = "LlmError";
  /** How many attempts were made before giving up (set by the retry loop). */
  attempts = 1;

  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly options: {
      status?: number;
      /** Milliseconds the provider asked us to wait (Retry-After). */
      retryAfterMs?: number;
      retryable?: boolean;
      /** For malformed answers: what could be used anyway (e.g. the verdicts that were present). */
      partial?: unknown;
      /** For "budget": which budget refused, with its limits and what is left (served in the 429). */
      budget?: Record<string, unknown>;
    } = {},
  ) {
    super(message);
  }

  get retryable(): boolean {
    if (this.options.retryable !== undefined) return this.options.retryable;
    if (this.kind === "http") {
      const s = this.options.status ?? 0;
      return s === 408 || s === 409 || s === 425 || s === 429 || s >= 500;
    }
    return this.kind === "timeout" || this.kind === "network" || this.kind === "malformed";
  }

  /** Errors that end the whole request instead of becoming one constraint's error verdict. */
  get endsRequest(): boolean {
    return this.kind === "budget";
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
