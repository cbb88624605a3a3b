import { and, asc, count, desc, eq, gt, gte, inArray, lt, lte, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { IN_LIST_MAX } from "../../db/d1.ts";
import { datasets, records } from "../../db/schema.ts";
import type { DatasetRecord, Instruction } from "../records.ts";

/** Reading stored records: ranges of positions, filtered pages, and a dataset's statistics. */

const READ_PAGE = 200;

/** The columns a reader needs; `payload` is the record without `kind`, as canonical JSON. */
const storedColumns = { id: records.id, position: records.position, kind: records.kind, payload: records.payload };
export type StoredRecord = Pick<typeof records.$inferSelect, keyof typeof storedColumns>;

export const toRecord = (row: StoredRecord): DatasetRecord => ({ kind: row.kind, ...JSON.parse(row.payload) }) as DatasetRecord;

/** Records with positions in [from, to), in order, fetched page by page. */
export async function* recordsInRange(db: D1Database, datasetId: string, from: number, to: number): AsyncGenerator<StoredRecord> {
  const orm = drizzle(db);
  for (let start = from; start < to; start += READ_PAGE) {
    yield* await orm
      .select(storedColumns)
      .from(records)
      .where(and(eq(records.datasetId, datasetId), gte(records.position, start), lt(records.position, Math.min(to, start + READ_PAGE))))
      .orderBy(asc(records.position))
      .all();
  }
}

export interface RowFilters {
  kind?: DatasetRecord["kind"];
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
  const orm = drizzle(db);
  const conditions: SQL[] = [];
  if (filters.kind) conditions.push(eq(records.kind, filters.kind));
  if (filters.constraints !== undefined) conditions.push(eq(records.constraintCount, filters.constraints));
  if (filters.minConstraints !== undefined) conditions.push(gte(records.constraintCount, filters.minConstraints));
  if (filters.maxConstraints !== undefined) conditions.push(lte(records.constraintCount, filters.maxConstraints));
  if (filters.dimension) conditions.push(sql`EXISTS (SELECT 1 FROM json_each(${records.dimensions}) WHERE value = ${filters.dimension})`);
  const filtered = conditions.length > 0;
  const where = and(eq(records.datasetId, datasetId), ...conditions);
  const total = filtered
    ? ((await orm.select({ n: count() }).from(records).where(where).get())?.n ?? 0)
    : ((await orm.select({ n: datasets.recordCount }).from(datasets).where(eq(datasets.id, datasetId)).get())?.n ?? 0);

  const rows = orm.select(storedColumns).from(records);
  let pageRows: StoredRecord[];
  if (page.after !== undefined) {
    // keyset: continue after the last position seen
    pageRows = await rows
      .where(and(where, gt(records.position, page.after)))
      .orderBy(asc(records.position))
      .limit(page.length)
      .all();
  } else if (!filtered) {
    // positions are dense, so an offset is a keyset seek on the position index
    pageRows = await rows
      .where(and(where, gte(records.position, page.offset ?? 0)))
      .orderBy(asc(records.position))
      .limit(page.length)
      .all();
  } else {
    pageRows = await rows
      .where(where)
      .orderBy(asc(records.position))
      .limit(page.length)
      .offset(page.offset ?? 0)
      .all();
  }
  return { rows: pageRows, total };
}

export async function datasetStatistics(db: D1Database, datasetId: string, typeOfDimension: Map<string, string>) {
  const orm = drizzle(db);
  const n = count();
  // json_each over each record's dimensions is a table-valued function drizzle has no builder for.
  const dimension = sql<string>`j.value`;
  const [kinds, histogram, dims] = await orm.batch([
    orm.select({ k: records.kind, n }).from(records).where(eq(records.datasetId, datasetId)).groupBy(records.kind),
    orm
      .select({ k: records.constraintCount, n })
      .from(records)
      .where(eq(records.datasetId, datasetId))
      .groupBy(records.constraintCount)
      .orderBy(records.constraintCount),
    orm
      .select({ k: dimension, n })
      .from(sql`${records}, json_each(${records.dimensions}) AS j`)
      .where(eq(records.datasetId, datasetId))
      .groupBy(dimension)
      .orderBy(desc(n), asc(dimension)),
  ]);
  const byType: Record<string, number> = {};
  const byDimension: Record<string, number> = {};
  for (const { k, n } of dims) {
    byDimension[String(k)] = n;
    const type = typeOfDimension.get(String(k)) ?? "Unknown";
    byType[type] = (byType[type] ?? 0) + n;
  }
  return {
    by_kind: Object.fromEntries(kinds.map(({ k, n }) => [String(k), n])),
    constraints_histogram: Object.fromEntries(histogram.map(({ k, n }) => [String(k), n])),
    constraints_by_type: byType,
    constraints_by_dimension: byDimension,
  };
}

/**
 * A dataset's instructions (instruction and sft records) by TRACE id (`meta.id`, compared as
 * text), for the ids asked: the first record in position order wins.
 */
export async function instructionsByTraceId(db: D1Database, datasetId: string, ids: readonly string[]): Promise<Map<string, Instruction>> {
  const orm = drizzle(db);
  const traceId = sql<string>`CAST(json_extract(${records.payload}, '$.meta.id') AS TEXT)`;
  const out = new Map<string, Instruction>();
  for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
    const rows = await orm
      .select({ ...storedColumns, traceId })
      .from(records)
      .where(
        and(
          eq(records.datasetId, datasetId),
          inArray(records.kind, ["instruction", "sft"]),
          inArray(traceId, ids.slice(i, i + IN_LIST_MAX)),
        ),
      )
      .orderBy(asc(records.position))
      .all();
    for (const row of rows) {
      const record = toRecord(row);
      if ((record.kind === "instruction" || record.kind === "sft") && !out.has(row.traceId)) out.set(row.traceId, record.instruction);
    }
  }
  return out;
}
