import { createRoute, z } from "@hono/zod-openapi";
import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { slugify } from "../datasets/taxonomy.ts";
import { constraintDimensions, constraintTypes } from "../db/schema.ts";
import { requireScope } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError } from "../lib/problem.ts";
import { DimensionWithTypeSchema, TaxonomySchema } from "@iopo/common/api";

async function loadTaxonomy(db: D1Database) {
  const orm = drizzle(db);
  const [types, dimensions] = await orm.batch([
    orm.select().from(constraintTypes).orderBy(asc(constraintTypes.position)),
    orm.select().from(constraintDimensions).orderBy(asc(constraintDimensions.position)),
  ]);
  const present = (d: (typeof dimensions)[number]) => ({
    name: d.name,
    slug: slugify(d.name),
    description: d.description,
    label_zh: d.labelZh,
    eval_count: d.evalCount,
  });
  return {
    types: types.map((t) => ({
      name: t.name,
      slug: slugify(t.name),
      description: t.description,
      dimensions: dimensions.filter((d) => d.type === t.name).map(present),
    })),
  };
}

const listRoute = createRoute({
  method: "get",
  path: "/v1/taxonomy",
  tags: ["Taxonomy"],
  summary: "TRACE's constraint taxonomy",
  description: "The 5 constraint types and their 26 dimensions, with descriptions and the Chinese labels used by TRACE data.",
  middleware: [requireScope("read")] as const,
  responses: { 200: jsonContent(TaxonomySchema, "The taxonomy"), ...problemResponses(401, 403) },
});

const oneRoute = createRoute({
  method: "get",
  path: "/v1/taxonomy/{dimension}",
  tags: ["Taxonomy"],
  summary: "One constraint dimension",
  description: "Look a dimension up by its English name (any case), its slug, or its Chinese `levels2` label.",
  middleware: [requireScope("read")] as const,
  request: {
    params: z.object({
      dimension: z.string().min(1).max(200).openapi({ example: "inclusion-constraint" }),
    }),
  },
  responses: {
    200: jsonContent(DimensionWithTypeSchema, "The dimension and its type"),
    ...problemResponses(401, 403, 404),
  },
});

export const taxonomyRoutes = createRouter()
  .openapi(listRoute, async (c) => c.json(await loadTaxonomy(c.env.DB), 200))
  .openapi(oneRoute, async (c) => {
    const wanted = c.req.valid("param").dimension.trim();
    const taxonomy = await loadTaxonomy(c.env.DB);
    for (const type of taxonomy.types) {
      for (const d of type.dimensions) {
        if (d.name.toLowerCase() === wanted.toLowerCase() || d.slug === wanted.toLowerCase() || d.label_zh === wanted) {
          return c.json({ ...d, type: type.name }, 200);
        }
      }
    }
    throw new ProblemError(404, "not-found", `No constraint dimension named "${wanted}".`, [
      { field: "path.dimension", message: "unknown dimension" },
    ]);
  });
