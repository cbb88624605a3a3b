import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { LIMITS, ndjsonLines } from "@iopo/common";
import { D1_MAX_VALUE_BYTES, d1Statement } from "../../db/d1.ts";
import { datasets, records } from "../../db/schema.ts";
import { ProblemError, type FieldError } from "../../lib/problem.ts";
import { loadTaxonomyIndex, resolveDimension } from "../taxonomy.ts";
import {
  canonicalJson,
  fieldNestedTooDeep,
  instructionsOf,
  primaryInstruction,
  recordId,
  RecordSchema,
  type DatasetRecord,
} from "../records.ts";
import type { DatasetRow } from "./access.ts";

/** Parsing, validating and appending records: all or nothing, idempotent, safe under concurrent writers. */

/** UTF-8 bytes of the JSON parameter of one multi-row insert (a lone larger record gets a statement of its own). */
const INSERT_CHUNK_BYTES = 1_000_000;
/** Retry-After (seconds) of the 409 a writer gets after losing every retry to concurrent writers. */
export const CONCURRENT_WRITE_RETRY_AFTER_S = 1;

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
  for (const entry of ndjsonLines(text)) {
    if ("error" in entry) errors.push({ field: "line", line: entry.line, message: entry.error });
    else records.push(entry);
  }
  return { records, errors };
}

export interface PreparedRecord {
  line: number;
  id: string;
  record: DatasetRecord;
  payload: string;
  constraintCount: number;
  dimensions: string[];
  /** The record as its insert statement sends it (JSON), and that text's size in UTF-8 bytes. */
  row: string;
  rowBytes: number;
}

const utf8 = new TextEncoder();

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
      errors.push({ field: deep, line, message: `nests deeper than ${LIMITS.record.maxDepth} levels` });
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
            errors.push({
              field: `${path}.constraints.${i}.dimension`,
              line,
              message: `unknown TRACE dimension "${constraint.dimension}"`,
            });
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
    const id = await recordId(record);
    const payload = canonicalJson(rest);
    const constraintCount = primary.constraints.length;
    const dimensions = primary.constraints.map((c) => c.dimension).filter((d): d is string => d !== undefined);
    const tuple: InsertTuple = [id, record.kind, payload, constraintCount, JSON.stringify(dimensions)];
    const row = JSON.stringify(tuple);
    const rowBytes = utf8.encode(row).byteLength;
    // Cloudflare's D1 refuses a larger value (a 500 after the fact): refused here, by line, before anything is written
    if (rowBytes + 2 > D1_MAX_VALUE_BYTES) {
      errors.push({
        field: "record",
        line,
        message: `is ${rowBytes.toLocaleString("en-US")} bytes as stored; D1 stores at most ${D1_MAX_VALUE_BYTES.toLocaleString("en-US")} bytes in one row`,
      });
      continue;
    }
    prepared.push({ line, id, record, payload, constraintCount, dimensions, row, rowBytes });
  }
  return errors.length > 0 ? { prepared: [], errors } : { prepared, errors };
}

/**
 * POST /v1/datasets/{name}/records: a body of records, all or nothing. 413 beyond
 * LIMITS.recordsPerRequest, 422 for an empty body or naming every invalid record (nothing is
 * written), else the records appended.
 */
export async function ingestBody(
  db: D1Database,
  dataset: DatasetRow,
  body: { text: string; isNdjson: boolean },
  validateChecker: CheckerValidator,
): Promise<IngestResult> {
  const parsed = parseRecordsBody(body.text, body.isNdjson);
  if (parsed.records.length + parsed.errors.length > LIMITS.recordsPerRequest) {
    throw new ProblemError(413, "payload-too-large", `At most ${LIMITS.recordsPerRequest} records per request; split the upload.`);
  }
  if (parsed.records.length === 0 && parsed.errors.length === 0) {
    throw new ProblemError(422, "validation", "The body holds no records.", [{ field: "body", message: "empty" }]);
  }
  const { dimensionNames } = await loadTaxonomyIndex(db);
  const { prepared, errors } = await prepareRecords(parsed, dimensionNames, validateChecker);
  if (errors.length > 0) {
    const lines = [...new Set(errors.map((e) => e.line).filter((l) => l !== undefined))];
    throw new ProblemError(
      422,
      "validation",
      `${lines.length} record(s) are invalid (lines ${lines.slice(0, 20).join(", ")}${lines.length > 20 ? ", ..." : ""}); nothing was written.`,
      errors.slice(0, 200),
    );
  }
  return appendRecords(db, dataset, prepared);
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
  const orm = drizzle(db);
  const unique = new Map<string, PreparedRecord>();
  for (const p of prepared) if (!unique.has(p.id)) unique.set(p.id, p);

  for (let attempt = 0; attempt < 4; attempt++) {
    const state = await orm.select({ recordCount: datasets.recordCount }).from(datasets).where(eq(datasets.id, dataset.id)).get();
    const base = state!.recordCount;
    const existing = await existingIds(db, dataset.id, [...unique.keys()]);
    const fresh = [...unique.values()].filter((p) => !existing.has(p.id));
    // A raw D1 batch rather than drizzle's: the inserts select from json_each and the callers'
    // statements are D1 statements, and all of them must commit in one transaction.
    const statements = insertStatements(db, dataset.id, base, fresh);
    if (fresh.length > 0) {
      statements.push(
        d1Statement(
          db,
          orm
            .update(datasets)
            .set({ recordCount: sql`${datasets.recordCount} + ${fresh.length}` })
            .where(eq(datasets.id, dataset.id)),
        ),
      );
    }
    statements.push(...alongside);
    try {
      if (statements.length > 0) await db.batch(statements);
      return {
        received: prepared.length,
        inserted: fresh.length,
        duplicates: prepared.length - fresh.length,
        record_count: base + fresh.length,
      };
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

/** Which of `ids` the dataset holds; the ids travel as one JSON parameter (D1 binds at most 100). */
export async function existingIds(db: D1Database, datasetId: string, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 5000) {
    const rows = await drizzle(db)
      .select({ id: records.id })
      .from(records)
      .where(
        and(
          eq(records.datasetId, datasetId),
          sql`${records.id} IN (SELECT value FROM json_each(${JSON.stringify(ids.slice(i, i + 5000))}))`,
        ),
      )
      .all();
    for (const r of rows) found.add(r.id);
  }
  return found;
}

type RecordRow = typeof records.$inferInsert;
/** One inserted record as `insertStatements` sends it; `position` comes from its index in the chunk. */
type InsertTuple = [RecordRow["id"], RecordRow["kind"], RecordRow["payload"], RecordRow["constraintCount"], RecordRow["dimensions"]];

/**
 * Multi-row inserts with one JSON parameter each: few statements, far under 100 bound parameters,
 * each parameter at most INSERT_CHUNK_BYTES (or one record, which `prepareRecords` keeps under D1's
 * value limit), measured in UTF-8 bytes as D1 measures it.
 */
export function insertChunks(fresh: PreparedRecord[]): { json: string; rows: number }[] {
  const chunks: { json: string; rows: number }[] = [];
  let rows: string[] = [];
  let bytes = 2;
  const flush = () => rows.length > 0 && chunks.push({ json: `[${rows.join(",")}]`, rows: rows.length });
  for (const p of fresh) {
    if (rows.length > 0 && bytes + p.rowBytes + 1 > INSERT_CHUNK_BYTES) {
      flush();
      rows = [];
      bytes = 2;
    }
    rows.push(p.row);
    bytes += p.rowBytes + 1;
  }
  flush();
  return chunks;
}

function insertStatements(db: D1Database, datasetId: string, base: number, fresh: PreparedRecord[]): D1PreparedStatement[] {
  let chunkStart = base;
  return insertChunks(fresh).map((chunk) => {
    // drizzle's insert-select must name every column (created_at too, which has a default), so
    // this one statement stays SQL; its columns are those of `records` in src/db/schema.ts.
    const statement = db
      .prepare(
        `INSERT INTO records (dataset_id, id, position, kind, payload, constraint_count, dimensions)
         SELECT ?1, json_extract(value, '$[0]'), ?2 + CAST(key AS INTEGER), json_extract(value, '$[1]'),
                json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]')
         FROM json_each(?3)`,
      )
      .bind(datasetId, chunkStart, chunk.json);
    chunkStart += chunk.rows;
    return statement;
  });
}
