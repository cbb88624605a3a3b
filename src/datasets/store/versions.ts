import { and, asc, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { datasetVersions, records, type VersionRow, versionShards } from "../../db/schema.ts";
import { ProblemError } from "../../lib/problem.ts";
import type { ShardFormat } from "@iopo/common";
import { FORMAT_KINDS, formatsFor } from "../export.ts";
import type { RecordKind } from "../records.ts";
import type { DatasetRow } from "./access.ts";
import { type EncodedShard, writeShard } from "./shards.ts";

/** Immutable versions of a dataset and the manifest of their shards. */

export type { VersionRow };

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

/** The record kinds among a version's records: one index seek per kind (records_kind_idx), whatever the size. */
export async function versionKinds(db: D1Database, version: VersionRow): Promise<RecordKind[]> {
  // json_each over the kinds drizzle cannot express as a table; one EXISTS per kind stops at its first row.
  const rows = await db
    .prepare(
      `SELECT value AS kind FROM json_each(?3) AS k
       WHERE EXISTS (SELECT 1 FROM records r WHERE r.dataset_id = ?1 AND r.kind = k.value AND r.position < ?2)`,
    )
    .bind(version.datasetId, version.recordCount, JSON.stringify(records.kind.enumValues))
    .all<{ kind: RecordKind }>();
  return rows.results.map((r) => r.kind);
}

/** The formats a version's records have lines in; any other format is a 422 naming the kinds and these. */
export async function requireFormat(db: D1Database, dataset: DatasetRow, version: VersionRow, format: ShardFormat): Promise<void> {
  if (version.recordCount === 0) return; // no shards in any format
  const kinds = await versionKinds(db, version);
  const fitting = formatsFor(kinds);
  if (fitting.includes(format)) return;
  throw new ProblemError(
    422,
    "validation",
    `Version ${version.version} of "${dataset.name}" holds ${kinds.join(", ")} records, which have no lines in format "${format}" ` +
      `(it takes ${FORMAT_KINDS[format].join(", ")} records). Formats that fit: ${fitting.join(", ")}.`,
    [{ field: "query.format", message: `one of ${fitting.join(", ")}` }],
  );
}

const summaryColumns = {
  shard: versionShards.shard,
  records: versionShards.recordCount,
  lines: versionShards.lineCount,
  bytes: versionShards.byteSize,
  sha256: versionShards.sha256,
};
export type ShardSummary = EncodedShard & { shard: number };

/**
 * Writes every shard of a new version, in every format its records fit, to R2 and their summaries
 * to D1: one pass over each shard's records for all formats.
 */
export async function freezeShards(db: D1Database, bucket: R2Bucket, version: VersionRow): Promise<void> {
  const formats = formatsFor(await versionKinds(db, version));
  for (let shard = 0; shard < shardCount(version); shard++) await writeShards(db, bucket, version, shard, formats);
}

/** Encodes one shard in `formats`, stores the bodies in R2 and their summaries in D1. */
async function writeShards(
  db: D1Database,
  bucket: R2Bucket,
  version: VersionRow,
  shard: number,
  formats: readonly ShardFormat[],
): Promise<ShardSummary[]> {
  const encoded = await writeShard(db, bucket, version, shard, formats);
  const orm = drizzle(db);
  const rows = encoded.map((e) => ({
    datasetId: version.datasetId,
    version: version.version,
    format: e.format,
    shard,
    recordCount: e.records,
    lineCount: e.lines,
    byteSize: e.bytes,
    sha256: e.sha256,
  }));
  // written after the R2 objects: a summary in D1 means its body is in R2
  await orm.insert(versionShards).values(rows).onConflictDoNothing().run();
  return encoded.map((e) => ({ ...e, shard }));
}

/**
 * Summaries of every shard in a format. Versions frozen since shards live in R2 have them all;
 * for older ones (or a format first asked for now) the missing shards are written on first use.
 */
export async function shardSummaries(db: D1Database, bucket: R2Bucket, version: VersionRow, format: ShardFormat): Promise<ShardSummary[]> {
  const stored = await drizzle(db)
    .select(summaryColumns)
    .from(versionShards)
    .where(
      and(eq(versionShards.datasetId, version.datasetId), eq(versionShards.version, version.version), eq(versionShards.format, format)),
    )
    .orderBy(asc(versionShards.shard))
    .all();
  const known = new Map(stored.map((r) => [r.shard, { ...r, format }]));
  const out: ShardSummary[] = [];
  for (let shard = 0; shard < shardCount(version); shard++) {
    out.push(known.get(shard) ?? (await writeShards(db, bucket, version, shard, [format]))[0]!);
  }
  return out;
}

/** One shard's summary (written first when missing, as in `shardSummaries`). */
export async function shardSummary(
  db: D1Database,
  bucket: R2Bucket,
  version: VersionRow,
  format: ShardFormat,
  shard: number,
): Promise<ShardSummary> {
  const stored = await drizzle(db)
    .select(summaryColumns)
    .from(versionShards)
    .where(
      and(
        eq(versionShards.datasetId, version.datasetId),
        eq(versionShards.version, version.version),
        eq(versionShards.format, format),
        eq(versionShards.shard, shard),
      ),
    )
    .get();
  return stored ? { ...stored, format } : (await writeShards(db, bucket, version, shard, [format]))[0]!;
}

/** Writes one shard's body in `format` to R2 again (a version whose summaries predate R2). */
export const rewriteShard = (db: D1Database, bucket: R2Bucket, version: VersionRow, format: ShardFormat, shard: number) =>
  writeShard(db, bucket, version, shard, [format]);
