import type { Principal } from "../lib/auth";
import { ProblemError, type FieldError } from "../lib/problem";
import { hex } from "@iopo/common";
import { exportLines, type ShardFormat } from "./export";
import { resolveDimension } from "./taxonomy";
import {
  canonicalJson,
  fieldNestedTooDeep,
  instructionsOf,
  primaryInstruction,
  recordId,
  RECORD_LIMITS,
  RecordSchema,
  type DatasetRecord,
} from "./records";

/** D1 access for datasets. Raw SQL where the shape of the statement matters for D1's limits. */

export const MAX_RECORDS_PER_REQUEST = 10_000;
/** Bound JSON parameter per insert statement; D1 caps a value at ~1-2 MB. */
const INSERT_CHUNK_BYTES = 800_000;
const READ_PAGE = 200;
/** Retry-After (seconds) of the 409 a writer gets after losing every retry to concurrent writers. */
export const CONCURRENT_WRITE_RETRY_AFTER_S = 1;

export interface DatasetRow {
  id: string;
  name: string;
  description: string;
  visibility: "public" | "private";
  /** "" for a public dataset; a private one's owner (see ownNamespace). */
  namespace: string;
  owner_key_id: string | null;
  record_count: number;
  created_at: string;
}

export function canRead(principal: Principal, dataset: DatasetRow): boolean {
  return (
    dataset.visibility === "public" ||
    principal.scopes.has("admin") ||
    (principal.keyId !== null && principal.keyId === dataset.owner_key_id)
  );
}

export function canWrite(principal: Principal, dataset: DatasetRow): boolean {
  return principal.scopes.has("admin") || (principal.scopes.has("write") && principal.keyId !== null && principal.keyId === dataset.owner_key_id);
}

/** The namespace of the caller's private datasets: its key id, "admin" for the admin token. */
const ownNamespace = (principal: Principal): string | null => principal.keyId ?? (principal.kind === "admin-token" ? "admin" : null);

/**
 * The dataset `name` means to this caller, or null: its own private dataset of that name first,
 * then the public one; an admin, who reads everything, then the oldest private one. Others'
 * private datasets are never considered, so they neither shadow nor reveal anything.
 */
export async function visibleDataset(db: D1Database, name: string, principal: Principal): Promise<DatasetRow | null> {
  const { results } = await db
    .prepare("SELECT * FROM datasets WHERE name = ?1 ORDER BY namespace = ?2 DESC, namespace = '' DESC, created_at")
    .bind(name, ownNamespace(principal) ?? "")
    .all<DatasetRow>();
  return results.find((row) => canRead(principal, row)) ?? null;
}

/** The dataset if this caller may see it; a private dataset it may not read does not exist (404). */
export async function findDataset(db: D1Database, name: string, principal: Principal, access: "read" | "write"): Promise<DatasetRow> {
  const row = await visibleDataset(db, name, principal);
  if (!row) {
    throw new ProblemError(404, "not-found", `No dataset named "${name}".`, [{ field: "path.name", message: "unknown dataset" }]);
  }
  if (access === "write" && !canWrite(principal, row)) {
    throw new ProblemError(403, "forbidden", `This key may not write to dataset "${name}" (only its owner or an admin may).`);
  }
  return row;
}

export async function listDatasets(db: D1Database, principal: Principal): Promise<DatasetRow[]> {
  const { results } = await db.prepare("SELECT * FROM datasets ORDER BY name").all<DatasetRow>();
  return results.filter((d) => canRead(principal, d));
}

export async function createDataset(
  db: D1Database,
  input: { name: string; description: string; visibility: "public" | "private" },
  principal: Principal,
): Promise<DatasetRow> {
  // Only the public names and the caller's own conflict: a name someone else holds privately is
  // free to it (the private one stays in its owner's namespace), so a 409 reveals nothing hidden.
  const taken = () =>
    new ProblemError(409, "conflict", `A dataset named "${input.name}" already exists.`, [{ field: "body.name", message: "already taken" }]);
  const own = ownNamespace(principal);
  if (own === null) throw new ProblemError(401, "unauthorized", "Creating a dataset needs a key.");
  const clash = await db.prepare("SELECT 1 FROM datasets WHERE name = ? AND namespace IN ('', ?)").bind(input.name, own).first();
  if (clash) throw taken();
  const namespace = input.visibility === "private" ? own : "";
  let row: DatasetRow | null;
  try {
    row = await db
      .prepare("INSERT INTO datasets (id, name, namespace, description, visibility, owner_key_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING *")
      .bind(crypto.randomUUID(), input.name, namespace, input.description, input.visibility, principal.keyId)
      .first<DatasetRow>();
  } catch (error) {
    if (/UNIQUE/i.test(String(error))) throw taken(); // created concurrently
    throw error;
  }
  return row!;
}

// ---------------------------------------------------------------------------------------------
// Ingestion

export interface ParsedBody {
  records: { line: number; value: unknown }[];
  errors: FieldError[];
}

/**
 * A request body of items: NDJSON (one per line; blank lines skipped) or a JSON array; line
 * numbers are 1-based. Lines that are not JSON come back as errors, so a caller can report them
 * with the rest of its validation.
 */
export function parseRecordsBody(text: string, isNdjson: boolean): ParsedBody {
  const records: ParsedBody["records"] = [];
  const errors: FieldError[] = [];
  if (!isNdjson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ProblemError(400, "malformed-json", `The request body is not valid JSON: ${(error as Error).message}`, [
        { field: "body", message: "not valid JSON" },
      ]);
    }
    if (!Array.isArray(parsed)) {
      throw new ProblemError(422, "validation", "A JSON body must be an array (or send NDJSON).", [
        { field: "body", message: "expected an array" },
      ]);
    }
    parsed.forEach((value, i) => records.push({ line: i + 1, value }));
    return { records, errors };
  }
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    try {
      records.push({ line: i + 1, value: JSON.parse(line) });
    } catch (error) {
      errors.push({ field: "line", line: i + 1, message: `not valid JSON: ${(error as Error).message}` });
    }
  });
  return { records, errors };
}

export interface PreparedRecord {
  line: number;
  id: string;
  record: DatasetRecord;
  payload: string;
  constraintCount: number;
  dimensions: string[];
}

/** Extra validation of a constraint's checker (id registered, kwargs valid); null when fine. */
export type CheckerValidator = (id: string, kwargs: Record<string, unknown>) => string | null;

/**
 * Validates every record; on any error nothing is prepared (the caller answers 422 with all of
 * them). Dimensions are normalised to the taxonomy's English names.
 */
export async function prepareRecords(
  parsed: ParsedBody,
  dimensionNames: Map<string, string>,
  validateChecker: CheckerValidator,
): Promise<{ prepared: PreparedRecord[]; errors: FieldError[] }> {
  const errors = [...parsed.errors];
  const prepared: PreparedRecord[] = [];
  for (const { line, value } of parsed.records) {
    const deep = fieldNestedTooDeep(value);
    if (deep !== null) {
      errors.push({ field: deep, line, message: `nests deeper than ${RECORD_LIMITS.maxDepth} levels` });
      continue;
    }
    const result = RecordSchema.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) {
        errors.push({ field: issue.path.map(String).join(".") || "record", line, message: issue.message });
      }
      continue;
    }
    const record = result.data;
    let ok = true;
    for (const [path, instruction] of instructionsOf(record)) {
      instruction.constraints.forEach((constraint, i) => {
        if (constraint.dimension !== undefined) {
          const name = resolveDimension({ dimensionNames }, constraint.dimension);
          if (!name) {
            ok = false;
            errors.push({ field: `${path}.constraints.${i}.dimension`, line, message: `unknown TRACE dimension "${constraint.dimension}"` });
          } else {
            constraint.dimension = name;
          }
        }
        if (constraint.checker) {
          const problem = validateChecker(constraint.checker.id, constraint.checker.kwargs);
          if (problem) {
            ok = false;
            errors.push({ field: `${path}.constraints.${i}.checker`, line, message: problem });
          }
        }
      });
    }
    if (!ok) continue;
    const primary = primaryInstruction(record);
    const { kind: _kind, ...rest } = record;
    prepared.push({
      line,
      id: await recordId(record),
      record,
      payload: canonicalJson(rest),
      constraintCount: primary.constraints.length,
      dimensions: primary.constraints.map((c) => c.dimension).filter((d): d is string => d !== undefined),
    });
  }
  return errors.length > 0 ? { prepared: [], errors } : { prepared, errors };
}

export interface IngestResult {
  received: number;
  inserted: number;
  duplicates: number;
  record_count: number;
}

/**
 * Appends the records not already present, atomically: one D1 batch inserts them all with dense
 * positions and bumps the dataset's count, or (on any failure) writes nothing. A concurrent
 * writer that took the same positions makes the batch fail on the unique position index; then
 * the whole computation is retried on fresh state.
 */
export async function appendRecords(
  db: D1Database,
  dataset: DatasetRow,
  prepared: PreparedRecord[],
  /** Statements that must commit together with the records (e.g. a job's cursor advance). */
  alongside: D1PreparedStatement[] = [],
): Promise<IngestResult> {
  const unique = new Map<string, PreparedRecord>();
  for (const p of prepared) if (!unique.has(p.id)) unique.set(p.id, p);

  for (let attempt = 0; attempt < 4; attempt++) {
    const state = await db.prepare("SELECT record_count FROM datasets WHERE id = ?").bind(dataset.id).first<{ record_count: number }>();
    const base = state!.record_count;
    const existing = await existingIds(db, dataset.id, [...unique.keys()]);
    const fresh = [...unique.values()].filter((p) => !existing.has(p.id));
    const statements = insertStatements(db, dataset.id, base, fresh);
    if (fresh.length > 0) {
      statements.push(db.prepare("UPDATE datasets SET record_count = record_count + ? WHERE id = ?").bind(fresh.length, dataset.id));
    }
    statements.push(...alongside);
    try {
      if (statements.length > 0) await db.batch(statements);
      return { received: prepared.length, inserted: fresh.length, duplicates: prepared.length - fresh.length, record_count: base + fresh.length };
    } catch (error) {
      if (!/UNIQUE|constraint/i.test(String(error))) throw error;
      // lost a race with another writer: nothing was written; recompute on the new state
    }
  }
  // Retrying is safe: records are idempotent (content-addressed), so a retry adds each at most once.
  throw new ProblemError(409, "conflict", "The dataset is being written concurrently; nothing was written, retry the request.", undefined, {
    "retry-after": String(CONCURRENT_WRITE_RETRY_AFTER_S),
  });
}

async function existingIds(db: D1Database, datasetId: string, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 5000) {
    const { results } = await db
      .prepare("SELECT id FROM records WHERE dataset_id = ? AND id IN (SELECT value FROM json_each(?))")
      .bind(datasetId, JSON.stringify(ids.slice(i, i + 5000)))
      .all<{ id: string }>();
    for (const r of results) found.add(r.id);
  }
  return found;
}

/** Multi-row inserts with one JSON parameter each: few statements, far under 100 bound parameters. */
function insertStatements(db: D1Database, datasetId: string, base: number, fresh: PreparedRecord[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  let chunk: unknown[] = [];
  let bytes = 0;
  let chunkStart = base;
  const flush = () => {
    if (chunk.length === 0) return;
    statements.push(
      db
        .prepare(
          `INSERT INTO records (dataset_id, id, position, kind, payload, constraint_count, dimensions)
           SELECT ?1, json_extract(value, '$[0]'), ?2 + CAST(key AS INTEGER), json_extract(value, '$[1]'),
                  json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
           FROM json_each(?3)`,
        )
        .bind(datasetId, chunkStart, JSON.stringify(chunk)),
    );
    chunkStart += chunk.length;
    chunk = [];
    bytes = 0;
  };
  for (const p of fresh) {
    const row = [p.id, p.record.kind, p.payload, p.constraintCount, JSON.stringify(p.dimensions)];
    const size = p.payload.length * 1.2 + 200;
    if (bytes + size > INSERT_CHUNK_BYTES) flush();
    chunk.push(row);
    bytes += size;
  }
  flush();
  return statements;
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface StoredRecord {
  id: string;
  position: number;
  kind: DatasetRecord["kind"];
  payload: string;
}

export const toRecord = (row: StoredRecord): DatasetRecord => ({ kind: row.kind, ...JSON.parse(row.payload) }) as DatasetRecord;

/** Records with positions in [from, to), in order, fetched page by page. */
export async function* recordsInRange(db: D1Database, datasetId: string, from: number, to: number): AsyncGenerator<StoredRecord> {
  for (let start = from; start < to; start += READ_PAGE) {
    const { results } = await db
      .prepare("SELECT id, position, kind, payload FROM records WHERE dataset_id = ? AND position >= ? AND position < ? ORDER BY position")
      .bind(datasetId, start, Math.min(to, start + READ_PAGE))
      .all<StoredRecord>();
    yield* results;
  }
}

export interface RowFilters {
  kind?: string;
  dimension?: string;
  constraints?: number;
  minConstraints?: number;
  maxConstraints?: number;
}

export async function queryRows(
  db: D1Database,
  datasetId: string,
  filters: RowFilters,
  page: { offset?: number; after?: number; length: number },
): Promise<{ rows: StoredRecord[]; total: number }> {
  const where = ["dataset_id = ?"];
  const binds: unknown[] = [datasetId];
  if (filters.kind) (where.push("kind = ?"), binds.push(filters.kind));
  if (filters.constraints !== undefined) (where.push("constraint_count = ?"), binds.push(filters.constraints));
  if (filters.minConstraints !== undefined) (where.push("constraint_count >= ?"), binds.push(filters.minConstraints));
  if (filters.maxConstraints !== undefined) (where.push("constraint_count <= ?"), binds.push(filters.maxConstraints));
  if (filters.dimension) (where.push("EXISTS (SELECT 1 FROM json_each(records.dimensions) WHERE value = ?)"), binds.push(filters.dimension));
  const filtered = where.length > 1;
  const total = filtered
    ? ((await db.prepare(`SELECT count(*) AS n FROM records WHERE ${where.join(" AND ")}`).bind(...binds).first<{ n: number }>())?.n ?? 0)
    : ((await db.prepare("SELECT record_count AS n FROM datasets WHERE id = ?").bind(datasetId).first<{ n: number }>())?.n ?? 0);

  let sql: string;
  const pageBinds = [...binds];
  if (page.after !== undefined) {
    // keyset: continue after the last position seen
    sql = `SELECT id, position, kind, payload FROM records WHERE ${where.join(" AND ")} AND position > ? ORDER BY position LIMIT ?`;
    pageBinds.push(page.after, page.length);
  } else if (!filtered) {
    // positions are dense, so an offset is a keyset seek on the position index
    sql = "SELECT id, position, kind, payload FROM records WHERE dataset_id = ? AND position >= ? ORDER BY position LIMIT ?";
    pageBinds.push(page.offset ?? 0, page.length);
  } else {
    sql = `SELECT id, position, kind, payload FROM records WHERE ${where.join(" AND ")} ORDER BY position LIMIT ? OFFSET ?`;
    pageBinds.push(page.length, page.offset ?? 0);
  }
  const { results } = await db.prepare(sql).bind(...pageBinds).all<StoredRecord>();
  return { rows: results, total };
}

export async function datasetStatistics(db: D1Database, datasetId: string, typeOfDimension: Map<string, string>) {
  const [kinds, histogram, dims] = await db.batch<{ k: string | number; n: number }>([
    db.prepare("SELECT kind AS k, count(*) AS n FROM records WHERE dataset_id = ? GROUP BY kind").bind(datasetId),
    db.prepare("SELECT constraint_count AS k, count(*) AS n FROM records WHERE dataset_id = ? GROUP BY constraint_count ORDER BY constraint_count").bind(datasetId),
    db
      .prepare("SELECT j.value AS k, count(*) AS n FROM records, json_each(records.dimensions) AS j WHERE records.dataset_id = ? GROUP BY j.value ORDER BY n DESC, k")
      .bind(datasetId),
  ]);
  const byType: Record<string, number> = {};
  const byDimension: Record<string, number> = {};
  for (const { k, n } of dims!.results) {
    byDimension[String(k)] = n;
    const type = typeOfDimension.get(String(k)) ?? "Unknown";
    byType[type] = (byType[type] ?? 0) + n;
  }
  return {
    by_kind: Object.fromEntries(kinds!.results.map(({ k, n }) => [String(k), n])),
    constraints_histogram: Object.fromEntries(histogram!.results.map(({ k, n }) => [String(k), n])),
    constraints_by_type: byType,
    constraints_by_dimension: byDimension,
  };
}

// ---------------------------------------------------------------------------------------------
// Versions and shards

export interface VersionRow {
  dataset_id: string;
  version: number;
  record_count: number;
  shard_size: number;
  description: string;
  created_at: string;
}

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
  // statement, so two concurrent freezes get different numbers and never a duplicate.
  const row = await db
    .prepare(
      `INSERT INTO dataset_versions (dataset_id, version, record_count, shard_size, description)
       SELECT ?1, coalesce((SELECT max(version) FROM dataset_versions WHERE dataset_id = ?1), 0) + 1,
              (SELECT record_count FROM datasets WHERE id = ?1), ?2, ?3
       WHERE NOT EXISTS (
         SELECT 1 FROM dataset_versions v
         WHERE v.dataset_id = ?1 AND v.shard_size = ?2
           AND v.version = (SELECT max(version) FROM dataset_versions WHERE dataset_id = ?1)
           AND v.record_count = (SELECT record_count FROM datasets WHERE id = ?1))
       RETURNING *`,
    )
    .bind(dataset.id, shardSize, description)
    .first<VersionRow>();
  if (row) return { version: row, created: true };
  const latest = await db
    .prepare("SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY version DESC LIMIT 1")
    .bind(dataset.id)
    .first<VersionRow>();
  return { version: latest!, created: false };
}

export async function findVersion(db: D1Database, dataset: DatasetRow, version: number): Promise<VersionRow> {
  const row = await db.prepare("SELECT * FROM dataset_versions WHERE dataset_id = ? AND version = ?").bind(dataset.id, version).first<VersionRow>();
  if (!row) {
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no version ${version}.`, [{ field: "path.version", message: "unknown version" }]);
  }
  return row;
}

export async function listVersions(db: D1Database, dataset: DatasetRow): Promise<VersionRow[]> {
  const { results } = await db.prepare("SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY version").bind(dataset.id).all<VersionRow>();
  return results;
}

export const shardCount = (v: VersionRow) => Math.ceil(v.record_count / v.shard_size);
export const shardName = (index: number, count: number) =>
  `train-${String(index).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.ndjson`;

export interface ShardSummary {
  shard: number;
  records: number;
  lines: number;
  bytes: number;
  sha256: string;
}

const encoder = new TextEncoder();

/** The NDJSON lines of one shard, as encoded chunks (one per page of records). */
export async function* shardChunks(db: D1Database, version: VersionRow, shard: number, format: ShardFormat): AsyncGenerator<{ bytes: Uint8Array; lines: number; records: number }> {
  const from = shard * version.shard_size;
  const to = Math.min(version.record_count, from + version.shard_size);
  let text = "";
  let lines = 0;
  let records = 0;
  for await (const row of recordsInRange(db, version.dataset_id, from, to)) {
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

/** Summaries of every shard in a format, computed once (versions are immutable) and stored. */
export async function shardSummaries(db: D1Database, version: VersionRow, format: ShardFormat): Promise<ShardSummary[]> {
  const count = shardCount(version);
  const { results } = await db
    .prepare("SELECT shard, record_count AS records, line_count AS lines, byte_size AS bytes, sha256 FROM version_shards WHERE dataset_id = ? AND version = ? AND format = ? ORDER BY shard")
    .bind(version.dataset_id, version.version, format)
    .all<ShardSummary>();
  const known = new Map(results.map((r) => [r.shard, r]));
  const out: ShardSummary[] = [];
  for (let shard = 0; shard < count; shard++) {
    let summary = known.get(shard);
    if (!summary) {
      summary = await summarizeShard(db, version, shard, format);
      await db
        .prepare("INSERT OR IGNORE INTO version_shards (dataset_id, version, format, shard, record_count, line_count, byte_size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(version.dataset_id, version.version, format, shard, summary.records, summary.lines, summary.bytes, summary.sha256)
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

/** A shard body as a stream, optionally only bytes [start, end] (inclusive) for Range requests. */
export function shardStream(db: D1Database, version: VersionRow, shard: number, format: ShardFormat, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
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
