import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { REFERENCE_DATASETS } from "../datasets/reference.ts";
import { datasets, datasetVersions } from "../db/schema.ts";
import { createRouter, jsonContent } from "../lib/openapi.ts";
import { VERSION } from "../version.ts";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    version: z.string(),
    d1: z.object({
      reachable: z.boolean(),
      migrations_applied: z.number().int().nullable(),
      error: z.string().optional(),
    }),
    reference_data: z
      .object({
        complete: z.boolean().openapi({ description: "Every reference dataset holds all its records in a frozen version" }),
        datasets: z.array(
          z.object({
            name: z.string(),
            expected_records: z.number().int(),
            records: z.number().int().openapi({ description: "0 when the dataset does not exist yet" }),
            versioned_records: z.number().int().openapi({ description: "Records in its largest version; 0 when it has none" }),
          }),
        ),
      })
      .optional()
      .openapi({ description: "Whether `npm start` has finished seeding trace-eval, ifeval and ifbench (absent when D1 is down)" }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["Service"],
  summary: "Service version and database status",
  description:
    "Answers without a key. 503 when D1 cannot be reached. `reference_data.complete` turns true once the reference datasets are seeded.",
  responses: {
    200: jsonContent(HealthSchema, "The service and D1 are up"),
    503: jsonContent(HealthSchema, "D1 is unreachable"),
  },
});

export const healthRoutes = createRouter().openapi(route, async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
    return c.json(
      {
        status: "ok" as const,
        version: VERSION,
        d1: { reachable: true, migrations_applied: await countMigrations(c.env.DB) },
        reference_data: await referenceDataStatus(c.env.DB),
      },
      200,
    );
  } catch (error) {
    return c.json(
      {
        status: "degraded" as const,
        version: VERSION,
        d1: { reachable: false, migrations_applied: null, error: error instanceof Error ? error.message : String(error) },
      },
      503,
    );
  }
});

/** wrangler (and the test setup) record applied migrations in d1_migrations; none yet means 0. */
async function countMigrations(db: D1Database): Promise<number> {
  try {
    const row = await db.prepare("SELECT count(*) AS n FROM d1_migrations").first<{ n: number }>();
    return row?.n ?? 0;
  } catch {
    return 0;
  }
}

/** How far seeding of the reference datasets has got: their record counts against the expected ones. */
async function referenceDataStatus(db: D1Database) {
  const largestVersion = sql<
    number | null
  >`(SELECT max(${datasetVersions.recordCount}) FROM ${datasetVersions} WHERE ${datasetVersions.datasetId} = ${datasets.id})`;
  const rows = await drizzle(db)
    .select({ name: datasets.name, records: datasets.recordCount, versioned: largestVersion })
    .from(datasets)
    // the public namespace: a private dataset of the same name is someone else's
    .where(
      and(
        eq(datasets.namespace, ""),
        inArray(
          datasets.name,
          REFERENCE_DATASETS.map((d) => d.name),
        ),
      ),
    )
    .all();
  const found = new Map(rows.map((row) => [row.name, row]));
  const status = REFERENCE_DATASETS.map(({ name, records: expected }) => ({
    name,
    expected_records: expected,
    records: found.get(name)?.records ?? 0,
    versioned_records: found.get(name)?.versioned ?? 0,
  }));
  return {
    complete: status.every((d) => d.records === d.expected_records && d.versioned_records === d.expected_records),
    datasets: status,
  };
}
