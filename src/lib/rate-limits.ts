/**
 * Periods (seconds) of the rate limiters in wrangler.toml `[[ratelimits]]`, sent as Retry-After:
 * the binding says only whether a request is within the limit, not when the window ends.
 * (A module of its own so that the Node test of wrangler.toml can import it.)
 */
export const LIMITER_PERIOD_S = { AUTH_FAILURE_LIMITER: 60, ANONYMOUS_LIMITER: 60, KEY_LIMITER: 60 } as const;
