import { LIMITS } from "@iopo/common";
import { ProblemError } from "../../lib/problem.ts";
import type { DatasetRow } from "./access.ts";
import { type StoredRecord, toRecord } from "./rows.ts";

/**
 * Full-text search over a dataset's prompts and responses: the FTS5 table `records_fts` with the
 * trigram tokenizer (migration 0008), which a trigger keeps current on every insert. Trigram
 * matching finds any substring of three characters or more, so Chinese (written without spaces)
 * is searchable; shorter terms cannot use the index and are matched by scanning the dataset's
 * texts, which is allowed only for datasets of at most LIMITS.searchScanRecords.
 */

/** The shortest term the trigram index can look up. */
export const TRIGRAM = 3;

export interface SearchPage {
  rows: StoredRecord[];
  total: number;
  /** "index": ranked by bm25; "scan": a short term, in position order. */
  matched_by: "index" | "scan";
}

/** Whitespace-separated terms; a record matches when it contains every term. */
export const searchTerms = (q: string) => q.trim().split(/\s+/u).filter(Boolean);

/** Each term as an FTS5 phrase (quotes doubled), so the query's own syntax never reaches FTS5. */
const matchExpression = (terms: string[]) => terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(" AND ");

// Raw D1 statements: FTS5's MATCH, its rank and the record_texts view are beyond drizzle's builders.
const COLUMNS = "r.id AS id, r.position AS position, r.kind AS kind, r.payload AS payload";

export async function searchRecords(
  db: D1Database,
  datasetId: string,
  terms: string[],
  page: { offset: number; length: number },
): Promise<SearchPage> {
  if (terms.every((t) => [...t].length >= TRIGRAM)) {
    const match = matchExpression(terms);
    const [hits, total] = await db.batch([
      db
        .prepare(
          `SELECT ${COLUMNS} FROM records_fts AS f JOIN records AS r ON r.dataset_id = f.dataset_id AND r.position = f.position
           WHERE records_fts MATCH ?1 AND f.dataset_id = ?2 ORDER BY f.rank, r.position LIMIT ?3 OFFSET ?4`,
        )
        .bind(match, datasetId, page.length, page.offset),
      db.prepare("SELECT count(*) AS n FROM records_fts WHERE records_fts MATCH ?1 AND dataset_id = ?2").bind(match, datasetId),
    ]);
    return { rows: hits!.results as StoredRecord[], total: (total!.results[0] as { n: number }).n, matched_by: "index" };
  }
  // every term must occur in the prompts or the responses (instr: no LIKE wildcards to escape);
  // term i is parameter ?(i + 2), after the dataset id
  const contains = terms.map((_, i) => `(instr(t.instruction, ?${i + 2}) > 0 OR instr(t.response, ?${i + 2}) > 0)`).join(" AND ");
  const n = terms.length + 2;
  const [hits, total] = await db.batch([
    db
      .prepare(
        `SELECT ${COLUMNS} FROM record_texts AS t JOIN records AS r ON r.rowid = t.rid
         WHERE t.dataset_id = ?1 AND ${contains} ORDER BY r.position LIMIT ?${n} OFFSET ?${n + 1}`,
      )
      .bind(datasetId, ...terms, page.length, page.offset),
    db.prepare(`SELECT count(*) AS n FROM record_texts AS t WHERE t.dataset_id = ?1 AND ${contains}`).bind(datasetId, ...terms),
  ]);
  return { rows: hits!.results as StoredRecord[], total: (total!.results[0] as { n: number }).n, matched_by: "scan" };
}

/**
 * GET /v1/datasets/{name}/search: a page of the records containing every term of `q`; 422 for
 * more terms than LIMITS.searchTermsPerQuery, or a short term in a dataset too large to scan.
 */
export async function searchDataset(db: D1Database, dataset: DatasetRow, query: { q: string; offset: number; length: number }) {
  const { searchTermsPerQuery: most, searchScanRecords } = LIMITS;
  const terms = searchTerms(query.q);
  if (terms.length > most) {
    throw new ProblemError(422, "validation", `At most ${most} search terms.`, [{ field: "query.q", message: `more than ${most} terms` }]);
  }
  if (terms.some((t) => [...t].length < TRIGRAM) && dataset.recordCount > searchScanRecords) {
    throw new ProblemError(
      422,
      "validation",
      `Terms shorter than ${TRIGRAM} characters are searched by a scan, which datasets of more than ${searchScanRecords} records do not allow; use longer terms.`,
      [{ field: "query.q", message: `a term shorter than ${TRIGRAM} characters` }],
    );
  }
  const page = await searchRecords(db, dataset.id, terms, query);
  return {
    query: query.q,
    rows: page.rows.map((r) => ({ row_idx: r.position, id: r.id, row: toRecord(r) as unknown as Record<string, unknown> })),
    num_rows_total: page.total,
    matched_by: page.matched_by,
  };
}
