/**
 * Reference log-probs, computed once per (model, dataset version, method, max length, tokenizer)
 * and cached on disk: the reference policy never changes, so a run (and every resumed or repeated
 * run) computes them in one pass and then trains with only the policy on the device.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Engine } from "@iopo/graph";
import type { Example } from "../data/order.ts";
import type { Model } from "../model/index.ts";
import { collate, encodeExample } from "./batch.ts";
import { LogprobRunner } from "./graphs.ts";
import type { Method } from "./losses.ts";

export interface RefCacheArgs {
  engine: Engine;
  model: Model;
  examples: Example[];
  method: Method;
  maxLength: number;
  batchSize: number;
  dataKey: string;
  cacheDir: string;
  log?: (line: string) => void;
}

export function refCacheKey(model: Model, dataKey: string, method: Method, maxLength: number): string {
  const tok = createHash("sha256")
    .update(JSON.stringify(model.tokenizer.tokenizerJson))
    .update(JSON.stringify(model.tokenizer.tokenizerConfig.chat_template ?? null))
    .digest("hex");
  return createHash("sha256")
    .update(JSON.stringify({ model: model.fingerprint, data: dataKey, method, maxLength, tokenizer: tok, v: 1 }))
    .digest("hex")
    .slice(0, 24);
}

/** Per example key, the reference log-prob of each of its rows (block order). */
export async function referenceLogprobs(a: RefCacheArgs): Promise<Map<string, Float32Array>> {
  const key = refCacheKey(a.model, a.dataKey, a.method, a.maxLength);
  const file = join(a.cacheDir, "ref-logps", `${key}.json`);
  const out = new Map<string, Float32Array>();
  if (existsSync(file)) {
    try {
      const saved = JSON.parse(await readFile(file, "utf8")) as { rows: Record<string, number[]> };
      for (const [k, v] of Object.entries(saved.rows)) out.set(k, Float32Array.from(v));
    } catch {
      // unreadable: recompute
    }
  }
  const missing = a.examples.filter((e) => !out.has(e.key));
  if (!missing.length) {
    a.log?.(`reference log-probs: ${a.examples.length} examples from the cache (${file})`);
    return out;
  }
  a.log?.(`reference log-probs: computing ${missing.length} example(s) once (cached in ${file})`);
  const encoded = missing.map((e) => ({ key: e.key, enc: encodeExample(a.model.tokenizer, e.sample, a.method, a.maxLength) }));
  // similar lengths together: less padding
  const len = (x: (typeof encoded)[number]) => Math.max(...x.enc.rows.map((r) => r.prompt.length + r.response.length));
  encoded.sort((x, y) => len(x) - len(y));
  const runner = await LogprobRunner.create(a.engine, a.model.config, a.model.weights);
  try {
    const t0 = performance.now();
    let lastLog = t0;
    for (let i = 0; i < encoded.length; i += a.batchSize) {
      const chunk = encoded.slice(i, i + a.batchSize);
      const b = collate(
        chunk.map((c) => c.enc),
        a.model.config,
        a.model.tokenizer.padTokenId,
      );
      const lp = await runner.run(b.feeds);
      const B = chunk.length;
      const K = chunk[0].enc.rows.length;
      chunk.forEach((c, j) =>
        out.set(
          c.key,
          Float32Array.from({ length: K }, (_, k) => lp[k * B + j]),
        ),
      );
      if (performance.now() - lastLog > 5000) {
        lastLog = performance.now();
        a.log?.(`  ${Math.min(i + a.batchSize, encoded.length)}/${encoded.length}`);
      }
    }
  } finally {
    await runner.dispose();
  }
  const rows: Record<string, number[]> = {};
  for (const [k, v] of out) rows[k] = Array.from(v);
  await mkdir(join(a.cacheDir, "ref-logps"), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ model: a.model.source, data: a.dataKey, method: a.method, maxLength: a.maxLength, rows }));
  await rename(tmp, file);
  return out;
}
