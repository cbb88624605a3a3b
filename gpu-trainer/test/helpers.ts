// The two engine helpers the trainer's tests share (the graph library's own tests have theirs in
// packages/graph/test/helpers.ts, next to the op cases).

export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Create an engine or explain why not (for skip messages). */
export async function tryEngine<T>(make: () => Promise<T>): Promise<Maybe<T>> {
  try {
    return { ok: true, value: await make() };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

export function skipBanner(what: string, reason: string): void {
  const line = "=".repeat(78);
  console.warn(`\n${line}\nSKIPPED: ${what}\nreason: ${reason}\n${line}\n`);
}
