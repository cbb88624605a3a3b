/**
 * For tests of code built on the graph library (its own and the trainer's): engines that may be
 * missing on a machine (no GPU adapter, no onnxruntime-node build) are tried, and a suite that
 * cannot run says why in a banner instead of passing quietly.
 */
import { EngineUnavailable } from "./engine/types.ts";

export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Create an engine or explain why this machine has none (for skip messages). Only
 * EngineUnavailable, the engines' "cannot load here" (no adapter, no addon, no Chromium), is a
 * reason to skip; any other error is a bug of the engine and is thrown.
 */
export async function tryEngine<T>(make: () => Promise<T>): Promise<Maybe<T>> {
  try {
    return { ok: true, value: await make() };
  } catch (e) {
    if (e instanceof EngineUnavailable) return { ok: false, reason: e.message };
    throw e;
  }
}

/** A skipped suite, loud in the test output. */
export function skipBanner(what: string, reason: string): void {
  const line = "=".repeat(78);
  console.warn(`\n${line}\nSKIPPED: ${what}\nreason: ${reason}\n${line}\n`);
}
