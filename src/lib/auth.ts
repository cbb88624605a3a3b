import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { MiddlewareHandler } from "hono";
import { keys } from "../db/schema";
import { sha256Hex } from "../shared/hash";
import type { AppEnv } from "../env";
import { ProblemError } from "./problem";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling. Scopes are hierarchical: admin implies write implies read. */
export interface Principal {
  kind: "anonymous" | "admin-token" | "key";
  keyId: string | null;
  scopes: ReadonlySet<Scope>;
}

const ANONYMOUS: Principal = { kind: "anonymous", keyId: null, scopes: new Set() };
const KEY_PREFIX = "iopo_";

export function expandScopes(scopes: Iterable<Scope>): Set<Scope> {
  const out = new Set<Scope>(scopes);
  if (out.has("admin")) out.add("write");
  if (out.has("write")) out.add("read");
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

/**
 * Resolves `authorization: Bearer <key>` into a principal. A header that is present but wrong
 * is always a 401, even on public routes: a client with a revoked key should find out.
 */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) {
    c.set("principal", ANONYMOUS);
    return next();
  }
  const match = bearerPattern.exec(header);
  if (!match) {
    throw new ProblemError(401, "unauthorized", "The authorization header must be `Bearer <key>`.", undefined, {
      "www-authenticate": 'Bearer realm="iopo"',
    });
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
    throw new ProblemError(401, "unauthorized", "The API key is unknown or has been revoked.", undefined, {
      "www-authenticate": 'Bearer realm="iopo", error="invalid_token"',
    });
  }
  c.set("principal", { kind: "key", keyId: row.id, scopes: expandScopes(JSON.parse(row.scopes) as Scope[]) });
  return next();
};

export const readsArePublic = (env: AppEnv["Bindings"]) => (env.PUBLIC_READS ?? "true").toLowerCase() !== "false";

/** Route guard: the caller must hold `scope` (reads pass anonymously when reads are public). */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal") ?? ANONYMOUS;
    if (scope === "read" && readsArePublic(c.env)) return next();
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
