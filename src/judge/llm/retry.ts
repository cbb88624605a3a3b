import { LlmError } from "./errors.ts";
import type { LlmSettings } from "./config.ts";

export type Sleep = (ms: number) => Promise<void>;
const defaultSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions extends Pick<LlmSettings, "timeoutMs" | "maxRetries" | "backoffMs" | "backoffMaxMs" | "retryAfterMaxMs"> {
  sleep?: Sleep;
  random?: () => number;
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(retry: number, options: Pick<RetryOptions, "backoffMs" | "backoffMaxMs">, random = Math.random): number {
  const exp = Math.min(options.backoffMaxMs, options.backoffMs * 2 ** retry);
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * Runs `attempt` until it succeeds, at most 1 + maxRetries times. Each attempt gets its own
 * AbortSignal that fires after timeoutMs. Retried: 408/409/425/429/5xx answers, timeouts, network
 * errors and malformed output (whatever `attempt` throws as a retryable LlmError). Between
 * attempts it waits the backoff, or the provider's Retry-After when longer; a Retry-After beyond
 * retryAfterMaxMs ends the loop at once. The final LlmError carries `attempts`.
 */
export async function withRetries<T>(attempt: (signal: AbortSignal) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  for (let n = 0; ; n++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    let error: LlmError;
    try {
      return await attempt(controller.signal);
    } catch (caught) {
      if (controller.signal.aborted) error = new LlmError("timeout", `the LLM provider did not answer within ${options.timeoutMs} ms`);
      else if (caught instanceof LlmError) error = caught;
      else error = new LlmError("network", `the LLM call failed: ${(caught as Error)?.message ?? String(caught)}`);
    } finally {
      clearTimeout(timer);
    }
    error.attempts = n + 1;
    if (!error.retryable || n >= options.maxRetries) throw error;
    const retryAfter = error.options.retryAfterMs;
    if (retryAfter !== undefined && retryAfter > options.retryAfterMaxMs) {
      const giveUp = new LlmError(
        error.kind,
        `${error.message} (the provider asked to retry after ${retryAfter} ms, more than LLM_RETRY_AFTER_MAX_MS=${options.retryAfterMaxMs})`,
        error.options,
      );
      giveUp.attempts = n + 1;
      throw giveUp;
    }
    await sleep(Math.max(backoffDelay(n, options, options.random), retryAfter ?? 0));
  }
}

/**
 * A cap on concurrent LLM calls: `run` waits for a free slot. `resize` moves the cap while calls
 * run (a job step's share of all jobs' bound changes as jobs start and end): calls in flight
 * finish, and new ones wait while as many as the new cap are in flight.
 */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly limit: number;
  resize(limit: number): void;
}

export function createLimiter(initial: number): Limiter {
  let limit = initial;
  let active = 0;
  const waiting: Array<() => void> = [];
  // slots go to the waiting calls first, in order, synchronously: a call arriving meanwhile cannot take one
  const admit = () => {
    while (active < limit && waiting.length > 0) {
      active++;
      waiting.shift()!();
    }
  };
  return {
    get limit() {
      return limit;
    },
    resize(next: number) {
      limit = next;
      admit();
    },
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        active--;
        admit();
      }
    },
  };
}
