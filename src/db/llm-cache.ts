/**
 * The LLM verdict cache (src/judge/llm/cache.ts) stored in D1's `llm_cache` table: the Worker's
 * side of it, kept out of the judge, which also runs in plain Node.
 */
import { inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { VerdictCache } from "../judge/llm/index.ts";
import { IN_LIST_MAX } from "./d1.ts";
import { llmCache, utcNow } from "./schema.ts";

export function d1VerdictCache(db: D1Database): VerdictCache {
  const orm = drizzle(db);
  return {
    async get(keys) {
      const out = new Map<string, unknown>();
      const unique = [...new Set(keys)];
      for (let i = 0; i < unique.length; i += IN_LIST_MAX) {
        const chunk = unique.slice(i, i + IN_LIST_MAX);
        const rows = await orm
          .select({ key: llmCache.key, value: llmCache.value })
          .from(llmCache)
          .where(inArray(llmCache.key, chunk))
          .all();
        for (const row of rows) {
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
      const [first, ...rest] = entries.map((e) =>
        orm
          .insert(llmCache)
          .values({
            key: e.key,
            kind: e.kind,
            provider: e.provider,
            model: e.model,
            promptVersion: e.promptVersion,
            value: JSON.stringify(e.value),
          })
          .onConflictDoUpdate({
            target: llmCache.key,
            set: { value: sql`excluded.value`, model: sql`excluded.model`, createdAt: utcNow },
          }),
      );
      await orm.batch([first!, ...rest]);
    },
  };
}
