/**
 * Verdict cache: a repeated judgement (same provider, model, prompt version, instruction, response
 * and constraint) is answered from storage without calling the model. Stored in D1 (table
 * `llm_cache`) through the minimal SQL interface below, which a D1Database satisfies.
 */
import { sha256Hex } from "@iopo/common";

export interface SqlStatement {
  bind(...values: unknown[]): SqlStatement;
  all<T = Record<string, unknown>>(): Promise<{ results: T[] }>;
  run(): Promise<unknown>;
}

export interface SqlDatabase {
  prepare(query: string): SqlStatement;
  batch(statements: SqlStatement[]): Promise<unknown[]>;
}

/** "generation": a pipeline step's or CFBench judgement's schema-validated model output. */
export type CacheKind = "verdict" | "compile" | "generation";

export interface CacheEntry {
  key: string;
  kind: CacheKind;
  provider: string;
  model: string;
  promptVersion: string;
  value: unknown;
}

export interface VerdictCache {
  get(keys: readonly string[]): Promise<Map<string, unknown>>;
  put(entries: readonly CacheEntry[]): Promise<void>;
}

/** sha256 (hex) of the JSON array of `parts`: unambiguous however the parts are cut. */
export async function cacheKey(parts: ReadonlyArray<string | null | undefined>): Promise<string> {
  return sha256Hex(JSON.stringify(parts.map((p) => p ?? null)));
}

/** D1's limit is 100 bound parameters per statement. */
const KEYS_PER_QUERY = 90;

export function sqlCache(db: SqlDatabase): VerdictCache {
  return {
    async get(keys) {
      const out = new Map<string, unknown>();
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += KEYS_PER_QUERY) {
        const chunk = unique.slice(i, i + KEYS_PER_QUERY);
        const { results } = await db
          .prepare(`SELECT key, value FROM llm_cache WHERE key IN (${chunk.map(() => "?").join(", ")})`)
          .bind(...chunk)
          .all<{ key: string; value: string }>();
        for (const row of results) {
          try {
            out.set(row.key, JSON.parse(row.value));
          } catch {
            // a corrupt row is a miss; the fresh verdict overwrites it
          }
        }
      }
      return out;
    },
    async put(entries) {
      if (entries.length === 0) return;
      await db.batch(
        entries.map((e) =>
          db
            .prepare(
              "INSERT INTO llm_cache (key, kind, provider, model, prompt_version, value) VALUES (?, ?, ?, ?, ?, ?) " +
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, model = excluded.model, created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
            )
            .bind(e.key, e.kind, e.provider, e.model, e.promptVersion, JSON.stringify(e.value)),
        ),
      );
    },
  };
}

/** An in-memory cache (for the CLI and tests of the pure modules). */
export function memoryCache(): VerdictCache & { entries: Map<string, unknown> } {
  const entries = new Map<string, unknown>();
  return {
    entries,
    async get(keys) {
      return new Map(keys.filter((k) => entries.has(k)).map((k) => [k, entries.get(k)]));
    },
    async put(list) {
      for (const e of list) entries.set(e.key, structuredClone(e.value));
    },
  };
}
