import { and, asc, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { datasetVersions, versionShards } from "../../db/schema.ts";
import { ProblemError } from "../../lib/problem.ts";
import { hex, type ShardFormat } from "@iopo/common";
import type { DatasetRow } from "./access.ts";
import { shardChunks } from "./shards.ts";

/** Immutable versions of a dataset and the manifest of their shards. */

export type VersionRow = typeof datasetVersions.$inferSelect;

/**
 * Freezes the dataset's records into a new version, unless the latest version already holds
 * exactly them with the same shard size (records are append-only, so an equal count means equal
 * content): then that version is returned with `created: false`, and no duplicate is made.
 */
export async function createVersion(
  db: D1Database,
  dataset: DatasetRow,
  shardSize: number,
  description: string,
): Promise<{ version: VersionRow; created: boolean }> {
  // The version number, the frozen count and the check against the latest version are one
  // statement, so two concurrent freezes get different numbers and never a duplicate. It stays
  // SQL because drizzle's insert-select must name every column, created_at's default too.
  const inserted = await db
    .prepare(
      `INSERT INTO dataset_versions (dataset_id, version, record_count, shard_size, description)
       SELECT ?1, coalesce((SELECT max(version) FROM dataset_versions WHERE dataset_id = ?1), 0) + 1,
              (SELECT record_count FROM datasets WHERE id = ?1), ?2, ?3
       WHERE NOT EXISTS (
         SELECT 1 FROM dataset_versions v
         WHERE v.dataset_id = ?1 AND v.shard_size = ?2
           AND v.version = (SELECT max(version) FROM dataset_versions WHERE dataset_id = ?1)
           AND v.record_count = (SELECT record_count FROM datasets WHERE id = ?1))
       RETURNING version`,
    )
    .bind(dataset.id, shardSize, description)
    .first<Pick<VersionRow, "version">>();
  const orm = drizzle(db);
  if (inserted) return { version: await findVersion(db, dataset, inserted.version), created: true };
  const latest = await orm
    .select()
    .from(datasetVersions)
    .where(eq(datasetVersions.datasetId, dataset.id))
    .orderBy(desc(datasetVersions.version))
    .limit(1)
    .get();
  return { version: latest!, created: false };
}

export async function findVersion(db: D1Database, dataset: DatasetRow, version: number): Promise<VersionRow> {
  const row = await drizzle(db)
    .select()
    .from(datasetVersions)
    .where(and(eq(datasetVersions.datasetId, dataset.id), eq(datasetVersions.version, version)))
    .get();
  if (!row) {
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no version ${version}.`, [
      { field: "path.version", message: "unknown version" },
    ]);
  }
  return row;
}

export async function listVersions(db: D1Database, dataset: DatasetRow): Promise<VersionRow[]> {
  return drizzle(db)
    .select()
    .from(datasetVersions)
    .where(eq(datasetVersions.datasetId, dataset.id))
    .orderBy(asc(datasetVersions.version))
    .all();
}

export const shardCount = (v: VersionRow) => Math.ceil(v.recordCount / v.shardSize);
export const shardName = (index: number, count: number) =>
  `train-${String(index).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.ndjson`;

/** A shard's exact NDJSON body in one format: what the manifest lists and the ETag names. */
const summaryColumns = {
  shard: versionShards.shard,
  records: versionShards.recordCount,
  lines: versionShards.lineCount,
  bytes: versionShards.byteSize,
  sha256: versionShards.sha256,
};
export type ShardSummary = { [K in keyof typeof summaryColumns]: (typeof summaryColumns)[K]["_"]["data"] };

/** Summaries of every shard in a format, computed once (versions are immutable) and stored. */
export async function shardSummaries(db: D1Database, version: VersionRow, format: ShardFormat): Promise<ShardSummary[]> {
  const orm = drizzle(db);
  const count = shardCount(version);
  const stored = await orm
    .select(summaryColumns)
    .from(versionShards)
    .where(
      and(eq(versionShards.datasetId, version.datasetId), eq(versionShards.version, version.version), eq(versionShards.format, format)),
    )
    .orderBy(asc(versionShards.shard))
    .all();
  const known = new Map(stored.map((r) => [r.shard, r]));
  const out: ShardSummary[] = [];
  for (let shard = 0; shard < count; shard++) {
    let summary = known.get(shard);
    if (!summary) {
      summary = await summarizeShard(db, version, shard, format);
      await orm
        .insert(versionShards)
        .values({
          datasetId: version.datasetId,
          version: version.version,
          format,
          shard,
          recordCount: summary.records,
          lineCount: summary.lines,
          byteSize: summary.bytes,
          sha256: summary.sha256,
        })
        .onConflictDoNothing()
        .run();
    }
    out.push(summary);
  }
  return out;
}

async function summarizeShard(db: D1Database, version: VersionRow, shard: number, format: ShardFormat): Promise<ShardSummary> {
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  let bytes = 0;
  let lines = 0;
  let records = 0;
  for await (const chunk of shardChunks(db, version, shard, format)) {
    await writer.write(chunk.bytes);
    bytes += chunk.bytes.byteLength;
    lines += chunk.lines;
    records += chunk.records;
  }
  await writer.close();
  const hash = hex(await digest.digest);
  return { shard, records, lines, bytes, sha256: hash };
}
