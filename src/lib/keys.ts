/**
 * The API keys in D1: created with their secret shown once (only its SHA-256 is stored), listed,
 * revoked, and given a model-call budget that overrides the default (src/lib/spend.ts reads it).
 */
import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { keyBudgets, keys, utcNow } from "../db/schema.ts";
import { generateApiKey, keyDisplayPrefix, sha256Hex } from "./auth.ts";
import type { Scope } from "./principal.ts";
import { ProblemError } from "./problem.ts";
import { BUDGET_FIELDS } from "./spend.ts";

type BudgetField = (typeof BUDGET_FIELDS)[number];

/** A key as the API shows it: never its secret. */
export const keyInfo = (row: typeof keys.$inferSelect) => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: JSON.parse(row.scopes) as Scope[],
  created_at: row.createdAt,
  revoked_at: row.revokedAt,
});

/** A new key, with its secret (the only time it is seen). */
export async function createKey(db: D1Database, request: { name: string; scopes: Scope[] }) {
  const key = generateApiKey();
  const row = await drizzle(db)
    .insert(keys)
    .values({
      id: crypto.randomUUID(),
      name: request.name,
      prefix: keyDisplayPrefix(key),
      hash: await sha256Hex(key),
      scopes: JSON.stringify([...new Set(request.scopes)]),
    })
    .returning()
    .get();
  return { ...keyInfo(row), key };
}

/** Every key, newest first, revoked ones included. */
export async function listKeys(db: D1Database) {
  const rows = await drizzle(db).select().from(keys).orderBy(desc(keys.createdAt)).all();
  return rows.map(keyInfo);
}

const noActiveKey = (id: string, message: string) =>
  new ProblemError(404, "not-found", `No active API key with id "${id}".`, [{ field: "path.id", message }]);

const COLUMN = {
  calls_per_minute: "callsPerMinute",
  calls_per_day: "callsPerDay",
  tokens_per_minute: "tokensPerMinute",
  tokens_per_day: "tokensPerDay",
} as const;

/** Sets the given fields of an active key's budget; null returns a field to the default. 404 for no such key. */
export async function setKeyBudget(db: D1Database, id: string, limits: Partial<Record<BudgetField, number | null>>): Promise<void> {
  const orm = drizzle(db);
  const key = await orm
    .select({ id: keys.id })
    .from(keys)
    .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
    .get();
  if (!key) throw noActiveKey(id, "unknown or revoked");
  const set = Object.fromEntries(
    BUDGET_FIELDS.filter((f) => limits[f] !== undefined).map((f) => [COLUMN[f], limits[f] ?? null]),
  ) as Partial<typeof keyBudgets.$inferInsert>;
  await orm
    .insert(keyBudgets)
    .values({ keyId: id, ...set })
    .onConflictDoUpdate({ target: keyBudgets.keyId, set: { ...set, updatedAt: utcNow } });
}

/** Revokes an active key at once; 404 for no such key, or one already revoked. */
export async function revokeKey(db: D1Database, id: string): Promise<void> {
  const revoked = await drizzle(db)
    .update(keys)
    .set({ revokedAt: new Date().toISOString() })
    .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
    .returning({ id: keys.id })
    .get();
  if (!revoked) throw noActiveKey(id, "unknown or already revoked");
}
