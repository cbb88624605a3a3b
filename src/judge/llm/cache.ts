/**
 * The LLM cache: a model call's validated answer is reused only for the exact same model input
 * (provider and endpoint, model, prompt version, every rendered message, the answer schema), so
 * what one request sent can never decide what another request gets for its own input. Stored in D1 (table
 * `llm_cache`: src/db/llm-cache.ts, the Worker's side), or in memory for the CLI and the pure modules' tests.
 */
import { sha256Hex } from "@iopo/common";
import type { ChatMessage, LlmProvider, ResponseSchema } from "./types.ts";

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

/**
 * The key of one model call's answer: everything the model saw. The judge's verdicts, the
 * compiler's mappings and the pipelines' generations are all stored under it.
 */
export function modelInputKey(
  kind: CacheKind,
  provider: Pick<LlmProvider, "id" | "model">,
  promptVersion: string,
  messages: readonly ChatMessage[],
  schema: ResponseSchema | undefined,
): Promise<string> {
  return cacheKey([kind, provider.id, provider.model, promptVersion, JSON.stringify(messages), JSON.stringify(schema ?? null)]);
}
