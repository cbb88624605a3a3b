import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context, MiddlewareHandler } from "hono";
import { keys } from "../db/schema.ts";
import { sha256Hex } from "@iopo/common";
import type { AppEnv } from "../env.ts";
import type { Principal, Scope } from "./principal.ts";
import { ProblemError } from "./problem.ts";
import { LIMITER_PERIOD_S } from "./rate-limits.ts";

const ANONYMOUS: Principal = { kind: "anonymous", keyId: null, scopes: new Set() };
const KEY_PREFIX = "iopo_";

export function expandScopes(scopes: Iterable<Scope>): Set<Scope> {
  const out = new Set<Scope>(scopes);
  if (out.has("admin")) out.add("write");
  if (out.has("write")) out.add("read");
  if (out.has("read")) out.add("judge");
  return out;
}

const encoder = new TextEncoder();

export { sha256Hex };

/**
 * Constant-time comparison of two secrets. Both are hashed first, so the comparison runs over
 * equal-length digests and leaks neither the content nor the length of the expected secret.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/** A new API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return KEY_PREFIX + btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export const keyDisplayPrefix = (key: string) => key.slice(0, KEY_PREFIX.length + 6);

const bearerPattern = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i;

/** Paths anonymous callers reach without counting against their limit: probes, the reference and its redirect. */
const UNTHROTTLED_PATHS = /^\/(v1\/health|docs|openapi\.json)?$/;

/** The calling client's address (CF-Connecting-IP: Cloudflare and `wrangler dev` always set it). */
export const clientAddress = (c: Context<AppEnv>) => c.req.header("cf-connecting-ip");

/**
 * Counts one request against `limiter` (a Cloudflare rate-limiting binding) under `key`: the
 * client address, or the API key's id; 429 with Retry-After beyond the limit. A request without a
 * key (an in-process call has no client address) or without the binding configured is not counted.
 */
async function throttle(c: Context<AppEnv>, name: keyof typeof LIMITER_PERIOD_S, key: string | undefined, what: string): Promise<void> {
  const limiter = c.env[name];
  if (!limiter || !key) return;
  const { success } = await limiter.limit({ key });
  if (success) return;
  const retryAfter = LIMITER_PERIOD_S[name];
  throw new ProblemError(429, "too-many-requests", `Too many ${what}; retry after ${retryAfter} s.`, undefined, {
    "retry-after": String(retryAfter),
  });
}

/** A 401 for bad credentials, or a 429 once this address has failed too often (guessing keys). */
async function rejectCredentials(c: Context<AppEnv>, detail: string, challenge: string): Promise<never> {
  await throttle(c, "AUTH_FAILURE_LIMITER", clientAddress(c), "failed authentications from this address");
  throw new ProblemError(401, "unauthorized", detail, undefined, { "www-authenticate": challenge });
}

/**
 * Resolves `authorization: Bearer <key>` into a principal. A header that is present but wrong
 * is always a 401, even on public routes: a client with a revoked key should find out. Failed
 * authentications and anonymous requests are rate-limited per client address, keyed requests per key.
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) {
    if (!UNTHROTTLED_PATHS.test(new URL(c.req.url).pathname)) {
      await throttle(c, "ANONYMOUS_LIMITER", clientAddress(c), "anonymous requests from this address");
    }
    c.set("principal", ANONYMOUS);
    return next();
  }
  const match = bearerPattern.exec(header);
  if (!match) {
    return rejectCredentials(c, "The authorization header must be `Bearer <key>`.", 'Bearer realm="iopo"');
  }
  const token = match[1]!;
  const adminToken = c.env.ADMIN_TOKEN;
  if (adminToken && (await secretsEqual(token, adminToken))) {
    c.set("principal", { kind: "admin-token", keyId: null, scopes: expandScopes(["admin"]) });
    return next();
  }
  // Keys are looked up by their SHA-256: the raw key is never stored, so a timing difference in
  // the index lookup reveals nothing about any stored key.
  const hash = await sha256Hex(token);
  const row = await drizzle(c.env.DB)
    .select({ id: keys.id, scopes: keys.scopes })
    .from(keys)
    .where(and(eq(keys.hash, hash), isNull(keys.revokedAt)))
    .get();
  if (!row) {
    return rejectCredentials(c, "The API key is unknown or has been revoked.", 'Bearer realm="iopo", error="invalid_token"');
  }
  await throttle(c, "KEY_LIMITER", row.id, "requests with this API key");
  c.set("principal", { kind: "key", keyId: row.id, scopes: expandScopes(JSON.parse(row.scopes) as Scope[]) });
  return next();
};

export const readsArePublic = (env: AppEnv["Bindings"]) => (env.PUBLIC_READS ?? "true").toLowerCase() !== "false";
/** The judge and benchmark routes answer without a key unless JUDGE_REQUIRES_KEY is "true" (production). */
export const judgeIsOpen = (env: AppEnv["Bindings"]) => (env.JUDGE_REQUIRES_KEY ?? "false").toLowerCase() !== "true";

/**
 * Route guard: the caller must hold `scope`. Reads pass anonymously when reads are public; the
 * judge (`judge` scope, which `read` implies) when JUDGE_REQUIRES_KEY is not "true".
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal") ?? ANONYMOUS;
    if (scope === "read" && readsArePublic(c.env)) return next();
    if (scope === "judge" && judgeIsOpen(c.env)) return next();
    if (principal.kind === "anonymous") {
      throw new ProblemError(401, "unauthorized", `This route needs an API key with the \`${scope}\` scope.`, undefined, {
        "www-authenticate": 'Bearer realm="iopo"',
      });
    }
    if (!principal.scopes.has(scope)) {
      throw new ProblemError(403, "forbidden", `This key lacks the \`${scope}\` scope.`);
    }
    return next();
  };
}
