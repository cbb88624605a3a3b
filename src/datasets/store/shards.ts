import { hex, type ShardFormat } from "@iopo/common";
import { exportLines } from "../export.ts";
import { recordsInRange, toRecord } from "./rows.ts";
import type { VersionRow } from "../../db/schema.ts";

/**
 * Frozen shards: a shard's NDJSON body is encoded from its records once and written to R2 under
 * its SHA-256 (content-addressed, so a body two versions share is stored once); requests are then
 * served from R2 (and the Cache API), never re-encoded. Encoding streams the records page by page
 * and never builds a large body whole.
 */

const encoder = new TextEncoder();
/** Encoded bytes held in memory per shard (all formats together) before bodies are streamed to R2 instead. */
const IN_MEMORY_BYTES = 16 * 1024 * 1024;
/** Bytes encoded before a page of chunks is handed on. */
const CHUNK_BYTES = 256 * 1024;

/** The R2 key of a shard body: its SHA-256. */
export const shardKey = (sha256: string) => `shards/sha256/${sha256}`;

/** A shard's exact NDJSON body in one format, as the manifest lists it and the ETag names it. */
export interface EncodedShard {
  format: ShardFormat;
  records: number;
  lines: number;
  bytes: number;
  sha256: string;
}

interface Chunk {
  bytes: Uint8Array;
  lines: number;
  records: number;
}

/** One pass over a shard's records, encoding every format in `formats`: per page, one chunk per format, in that order. */
async function* shardChunks(db: D1Database, version: VersionRow, shard: number, formats: readonly ShardFormat[]): AsyncGenerator<Chunk[]> {
  const from = shard * version.shardSize;
  const to = Math.min(version.recordCount, from + version.shardSize);
  const pending = formats.map((format) => ({ format, text: "", lines: 0, records: 0 }));
  const take = (): Chunk[] =>
    pending.map((p) => {
      const chunk = { bytes: encoder.encode(p.text), lines: p.lines, records: p.records };
      Object.assign(p, { text: "", lines: 0, records: 0 });
      return chunk;
    });
  let size = 0;
  for await (const row of recordsInRange(db, version.datasetId, from, to)) {
    const record = toRecord(row);
    for (const p of pending) {
      for (const line of exportLines(row.id, record, p.format)) {
        const text = `${JSON.stringify(line)}\n`;
        p.text += text;
        size += text.length;
        p.lines++;
      }
      p.records++;
    }
    if (size > CHUNK_BYTES) {
      yield take();
      size = 0;
    }
  }
  yield take();
}

/**
 * Encodes a shard in `formats` and writes each body to R2 unless its SHA-256 is there already.
 * Small bodies are written from memory; larger ones are encoded again and streamed to R2 with
 * their length and SHA-256 known (R2 checks the digest, so both passes must agree).
 */
export async function writeShard(
  db: D1Database,
  bucket: R2Bucket,
  version: VersionRow,
  shard: number,
  formats: readonly ShardFormat[],
): Promise<EncodedShard[]> {
  const state = formats.map((format) => {
    const digest = new crypto.DigestStream("SHA-256");
    return { format, digest, writer: digest.getWriter(), records: 0, lines: 0, bytes: 0, body: [] as Uint8Array[] | undefined };
  });
  let held = 0;
  for await (const chunks of shardChunks(db, version, shard, formats)) {
    for (const [i, chunk] of chunks.entries()) {
      const s = state[i]!;
      await s.writer.write(chunk.bytes);
      s.records += chunk.records;
      s.lines += chunk.lines;
      s.bytes += chunk.bytes.byteLength;
      s.body?.push(chunk.bytes);
      held += chunk.bytes.byteLength;
    }
    if (held > IN_MEMORY_BYTES) for (const s of state) s.body = undefined;
  }
  const encoded: EncodedShard[] = [];
  for (const s of state) {
    await s.writer.close();
    const sha256 = hex(await s.digest.digest);
    encoded.push({ format: s.format, records: s.records, lines: s.lines, bytes: s.bytes, sha256 });
    const key = shardKey(sha256);
    if (await bucket.head(key)) continue; // content-addressed: these bytes are stored already
    const options = { sha256, httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } };
    if (s.body) {
      await bucket.put(key, concat(s.body, s.bytes), options);
      continue;
    }
    const { readable, writable } = new FixedLengthStream(s.bytes);
    const writing = (async () => {
      const writer = writable.getWriter();
      for await (const [chunk] of shardChunks(db, version, shard, [s.format])) await writer.write(chunk!.bytes);
      await writer.close();
    })();
    await Promise.all([bucket.put(key, readable, options), writing]);
  }
  return encoded;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Where a frozen shard's bytes are read from: R2, with the Cache API in front (keyed by content, so never stale). */
export interface FrozenShardSource {
  bucket: R2Bucket;
  /** Keeps the Worker alive while a body is copied into the cache after the response. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Writes the body to R2 when it is not there: versions frozen before shards lived in R2. */
  writeMissing: () => Promise<unknown>;
}

/** A frozen shard's body, or only bytes start..end (inclusive). */
export async function frozenShardBody(
  source: FrozenShardSource,
  shard: EncodedShard,
  range?: { start: number; end: number },
): Promise<ReadableStream<Uint8Array>> {
  const key = shardKey(shard.sha256);
  const cacheUrl = `https://frozen-shards.iopo.internal/${key}`;
  const cache = (caches as unknown as { default: Cache }).default;
  const cached = await cache.match(new Request(cacheUrl, range ? { headers: { range: `bytes=${range.start}-${range.end}` } } : {}));
  // a cache that ignored the range would hand back the wrong bytes: only an exact answer is used
  const exact = range
    ? cached?.status === 206 && cached.headers.get("content-range")?.startsWith(`bytes ${range.start}-${range.end}/`)
    : cached?.status === 200;
  if (cached?.body && exact) return cached.body;
  await cached?.body?.cancel();

  const get = () => source.bucket.get(key, range ? { range: { offset: range.start, length: range.end - range.start + 1 } } : {});
  let object = await get();
  if (!object) {
    await source.writeMissing();
    object = await get();
  }
  if (!object) throw new Error(`frozen shard ${key} is missing from R2 after being written`);
  if (range) return object.body;
  const [body, copy] = object.body.tee();
  source.waitUntil(
    cache.put(
      cacheUrl,
      new Response(copy, {
        headers: {
          "content-length": String(shard.bytes),
          etag: `"${shard.sha256}"`,
          "cache-control": "public, max-age=31536000, immutable",
        },
      }),
    ),
  );
  return body;
}
