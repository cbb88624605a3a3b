import type { ShardFormat } from "@iopo/common";
import { exportLines } from "../export.ts";
import { recordsInRange, toRecord } from "./rows.ts";
import type { VersionRow } from "./versions.ts";

/** A shard's NDJSON body, streamed from its records page by page and never built whole. */

const encoder = new TextEncoder();

/** The NDJSON lines of one shard, as encoded chunks (one per page of records). */
export async function* shardChunks(
  db: D1Database,
  version: VersionRow,
  shard: number,
  format: ShardFormat,
): AsyncGenerator<{ bytes: Uint8Array; lines: number; records: number }> {
  const from = shard * version.shardSize;
  const to = Math.min(version.recordCount, from + version.shardSize);
  let text = "";
  let lines = 0;
  let records = 0;
  for await (const row of recordsInRange(db, version.datasetId, from, to)) {
    for (const line of exportLines(row.id, toRecord(row), format)) {
      text += `${JSON.stringify(line)}\n`;
      lines++;
    }
    records++;
    if (text.length > 256 * 1024) {
      yield { bytes: encoder.encode(text), lines, records };
      text = "";
      lines = 0;
      records = 0;
    }
  }
  if (text.length > 0 || records > 0) yield { bytes: encoder.encode(text), lines, records };
}

/** A shard body as a stream, optionally only bytes [start, end] (inclusive) for Range requests. */
export function shardStream(
  db: D1Database,
  version: VersionRow,
  shard: number,
  format: ShardFormat,
  range?: { start: number; end: number },
): ReadableStream<Uint8Array> {
  const chunks = shardChunks(db, version, shard, format);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (true) {
          const next = await chunks.next();
          if (next.done) return controller.close();
          const bytes = next.value.bytes;
          const chunkStart = offset;
          offset += bytes.byteLength;
          if (!range) return controller.enqueue(bytes);
          if (offset <= range.start) continue; // wholly before the range
          if (chunkStart > range.end) return controller.close();
          const from = Math.max(0, range.start - chunkStart);
          const to = Math.min(bytes.byteLength, range.end - chunkStart + 1);
          controller.enqueue(bytes.subarray(from, to));
          if (offset > range.end) return controller.close();
          return;
        }
      } catch (error) {
        // errors inside a stream never reach the app's error handler: end the body with an error
        console.error("shard stream failed", error);
        controller.error(error);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}
