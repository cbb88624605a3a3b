import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, jsonContent } from "../lib/openapi";
import { VERSION } from "../version";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    version: z.string(),
    d1: z.object({
      reachable: z.boolean(),
      migrations_applied: z.number().int().nullable(),
      error: z.string().optional(),
    }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["Service"],
  summary: "Service version and database status",
  description: "Answers without a key. 503 when D1 cannot be reached.",
  responses: {
    200: jsonContent(HealthSchema, "The service and D1 are up"),
    503: jsonContent(HealthSchema, "D1 is unreachable"),
  },
});

export const healthRoutes = createRouter().openapi(route, async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
    return c.json(
      { status: "ok" as const, version: VERSION, d1: { reachable: true, migrations_applied: await countMigrations(c.env.DB) } },
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
