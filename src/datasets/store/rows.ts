import { and, asc, count, desc, eq, gt, gte, inArray, lt, lte, max, min, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { IN_LIST_MAX } from "../../db/d1.ts";
import { datasets, records } from "../../db/schema.ts";
import { ProblemError } from "../../lib/problem.ts";
import type { DatasetRecord, Instruction, RecordKind } from "../records.ts";
import { dimensionsOfType, loadTaxonomyIndex, resolveDimension } from "../taxonomy.ts";

/** Reading stored records: ranges of positions, filtered pages, and a dataset's statistics. */

/** Records per D1 read of a range. */
export const READ_PAGE = 200;

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
  /** Records with a constraint of any of these dimensions (a TRACE type's dimensions). */
  dimensionsOfType?: string[];
  constraints?: number;
  minConstraints?: number;
  maxConstraints?: number;
  /** Character ranges of the rendered (primary) prompt and of the (primary) response. */
  minInstructionChars?: number;
  maxInstructionChars?: number;
  minResponseChars?: number;
  maxResponseChars?: number;
}

/** The filters as SQL conditions on `records` (the dataset condition apart). */
function filterConditions(filters: RowFilters): SQL[] {
  const conditions: SQL[] = [];
  if (filters.kind) conditions.push(eq(records.kind, filters.kind));
  if (filters.constraints !== undefined) conditions.push(eq(records.constraintCount, filters.constraints));
  if (filters.minConstraints !== undefined) conditions.push(gte(records.constraintCount, filters.minConstraints));
  if (filters.maxConstraints !== undefined) conditions.push(lte(records.constraintCount, filters.maxConstraints));
  if (filters.dimension) conditions.push(sql`EXISTS (SELECT 1 FROM json_each(${records.dimensions}) WHERE value = ${filters.dimension})`);
  if (filters.dimensionsOfType) {
    const names = JSON.stringify(filters.dimensionsOfType);
    conditions.push(sql`EXISTS (SELECT 1 FROM json_each(${records.dimensions}) WHERE value IN (SELECT value FROM json_each(${names})))`);
  }
  if (filters.minInstructionChars !== undefined) conditions.push(gte(records.instructionChars, filters.minInstructionChars));
  if (filters.maxInstructionChars !== undefined) conditions.push(lte(records.instructionChars, filters.maxInstructionChars));
  if (filters.minResponseChars !== undefined) conditions.push(gte(records.responseChars, filters.minResponseChars));
  if (filters.maxResponseChars !== undefined) conditions.push(lte(records.responseChars, filters.maxResponseChars));
  return conditions;
}

export async function queryRows(
  db: D1Database,
  datasetId: string,
  filters: RowFilters,
  page: { offset?: number; after?: number; length: number },
): Promise<{ rows: StoredRecord[]; total: number }> {
  const orm = drizzle(db);
  const conditions = filterConditions(filters);
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

/** Text-length histograms have this many equal-width bins between the shortest and the longest text. */
/** GET /v1/datasets/{name}/rows: its query, as the route validates it. */
export interface RowsQuery {
  offset?: number;
  after?: number;
  length: number;
  kind?: RecordKind;
  dimension?: string;
  type?: string;
  constraints?: number;
  min_constraints?: number;
  max_constraints?: number;
  min_instruction_chars?: number;
  max_instruction_chars?: number;
  min_response_chars?: number;
  max_response_chars?: number;
}

/**
 * A page of a dataset's records, filtered: a dimension or a constraint type named as the taxonomy
 * names it (422 for one it does not know), paged by `offset` or by `after`, not both.
 */
export async function browseRows(db: D1Database, datasetId: string, q: RowsQuery) {
  if (q.offset !== undefined && q.after !== undefined) {
    throw new ProblemError(422, "validation", "Page with `offset` or with `after`, not both.", [
      { field: "query.after", message: "not allowed with offset" },
    ]);
  }
  let dimension = q.dimension;
  if (dimension !== undefined) {
    const taxonomy = await loadTaxonomyIndex(db);
    dimension = resolveDimension(taxonomy, dimension);
    if (!dimension)
      throw new ProblemError(422, "validation", `Unknown TRACE dimension "${q.dimension}".`, [
        { field: "query.dimension", message: "unknown dimension" },
      ]);
  }
  let ofType: string[] | undefined;
  if (q.type !== undefined) {
    ofType = dimensionsOfType(await loadTaxonomyIndex(db), q.type);
    if (!ofType)
      throw new ProblemError(422, "validation", `Unknown TRACE constraint type "${q.type}".`, [
        { field: "query.type", message: "unknown constraint type" },
      ]);
  }
  const { rows, total } = await queryRows(
    db,
    datasetId,
    {
      kind: q.kind,
      dimension,
      dimensionsOfType: ofType,
      constraints: q.constraints,
      minConstraints: q.min_constraints,
      maxConstraints: q.max_constraints,
      minInstructionChars: q.min_instruction_chars,
      maxInstructionChars: q.max_instruction_chars,
      minResponseChars: q.min_response_chars,
      maxResponseChars: q.max_response_chars,
    },
    { offset: q.offset, after: q.after, length: q.length },
  );
  const last = rows[rows.length - 1];
  return {
    rows: rows.map((r) => ({ row_idx: r.position, id: r.id, row: toRecord(r) as unknown as Record<string, unknown> })),
    num_rows_total: total,
    next_after: rows.length === q.length && last ? last.position : null,
  };
}

export const LENGTH_HISTOGRAM_BINS = 10;

export interface LengthHistogram {
  min: number;
  max: number;
  /** `from` and `to` inclusive, in characters. */
  bins: { from: number; to: number; count: number }[];
}

/**
 * A dataset's statistics (of its first `upTo` positions: a frozen version's records): counts by
 * kind, constraints-per-instruction histogram, constraints by TRACE type and dimension, and
 * histograms of the prompt and response lengths. The one place they are computed.
 */
export async function datasetStatistics(db: D1Database, datasetId: string, typeOfDimension: Map<string, string>, upTo?: number) {
  const orm = drizzle(db);
  const n = count();
  const where = and(eq(records.datasetId, datasetId), upTo === undefined ? undefined : lt(records.position, upTo));
  // json_each over each record's dimensions is a table-valued function drizzle has no builder for.
  const dimension = sql<string>`j.value`;
  const [kinds, histogram, dims, [bounds]] = await orm.batch([
    orm.select({ k: records.kind, n }).from(records).where(where).groupBy(records.kind),
    orm
      .select({ k: records.constraintCount, n })
      .from(records)
      .where(where)
      .groupBy(records.constraintCount)
      .orderBy(records.constraintCount),
    orm
      .select({ k: dimension, n })
      .from(sql`${records}, json_each(${records.dimensions}) AS j`)
      .where(where)
      .groupBy(dimension)
      .orderBy(desc(n), asc(dimension)),
    orm
      .select({
        instructionMin: min(records.instructionChars),
        instructionMax: max(records.instructionChars),
        responseMin: min(records.responseChars),
        responseMax: max(records.responseChars),
      })
      .from(records)
      .where(where),
  ]);
  const byType: Record<string, number> = {};
  const byDimension: Record<string, number> = {};
  for (const { k, n } of dims) {
    byDimension[String(k)] = n;
    const type = typeOfDimension.get(String(k)) ?? "Unknown";
    byType[type] = (byType[type] ?? 0) + n;
  }
  const instructionRange = { min: bounds?.instructionMin ?? 0, max: bounds?.instructionMax ?? 0 };
  const responseRange = { min: bounds?.responseMin ?? 0, max: bounds?.responseMax ?? 0 };
  const binOf = (column: typeof records.instructionChars | typeof records.responseChars, range: { min: number; max: number }) =>
    // D1 binds JS numbers as REAL: CAST keeps the division integral.
    sql<number>`CAST((${column} - ${range.min}) / ${binWidth(range)} AS INTEGER)`;
  const [instructionBins, responseBins] = await orm.batch([
    orm
      .select({ k: binOf(records.instructionChars, instructionRange), n })
      .from(records)
      .where(where)
      .groupBy(binOf(records.instructionChars, instructionRange)),
    orm
      .select({ k: binOf(records.responseChars, responseRange), n })
      .from(records)
      .where(where)
      .groupBy(binOf(records.responseChars, responseRange)),
  ]);
  return {
    by_kind: Object.fromEntries(kinds.map(({ k, n }) => [String(k), n])),
    constraints_histogram: Object.fromEntries(histogram.map(({ k, n }) => [String(k), n])),
    constraints_by_type: byType,
    constraints_by_dimension: byDimension,
    instruction_chars: lengthHistogram(instructionRange, instructionBins),
    response_chars: lengthHistogram(responseRange, responseBins),
  };
}

const binWidth = (range: { min: number; max: number }) => Math.max(1, Math.ceil((range.max - range.min + 1) / LENGTH_HISTOGRAM_BINS));

function lengthHistogram(range: { min: number; max: number }, counts: { k: number; n: number }[]): LengthHistogram {
  const width = binWidth(range);
  const bins = Array.from({ length: LENGTH_HISTOGRAM_BINS }, (_, i) => ({
    from: range.min + i * width,
    to: range.min + (i + 1) * width - 1,
    count: 0,
  })).filter((bin) => bin.from <= range.max);
  for (const { k, n } of counts) bins[k]!.count = n;
  return { ...range, bins };
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
