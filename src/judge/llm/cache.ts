/**
 * Verdict cache: a repeated judgement (same provider, model, prompt version, instruction, response
 * and constraint) is answered from storage without calling the model. Stored in D1 (table
 * `llm_cache`: src/db/llm-cache.ts, the Worker's side), or in memory for the CLI and the pure modules' tests.
 */
import { sha256Hex } from "@iopo/common";

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
