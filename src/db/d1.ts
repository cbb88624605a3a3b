/**
 * Values per `IN (...)` list: D1 binds at most 100 parameters per statement, and a query keeps a
 * few for its other conditions.
 */
export const IN_LIST_MAX = 90;

/**
 * A drizzle query as a plain D1 statement, so that it can join one `D1Database.batch` (one
 * transaction) with statements drizzle cannot build, such as an `INSERT ... SELECT FROM json_each`.
 */
export function d1Statement(db: D1Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return db.prepare(sql).bind(...params);
}

/**
 * D1's largest string, BLOB or row, in bytes (developers.cloudflare.com/d1/platform/limits/): a
 * bound JSON parameter too. The local D1 of `wrangler dev` does not enforce it; Cloudflare's does.
 */
export const D1_MAX_VALUE_BYTES = 2_000_000;
