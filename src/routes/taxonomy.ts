import { createRoute, z } from "@hono/zod-openapi";
import { loadTaxonomyIndex, resolveDimension, slugify, type TaxonomyDimension, type TaxonomyIndex } from "../datasets/taxonomy.ts";
import { requireScope } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError } from "../lib/problem.ts";
import { DimensionWithTypeSchema, TaxonomySchema } from "@iopo/common/api";

const presentDimension = (d: TaxonomyDimension) => ({
  name: d.name,
  slug: slugify(d.name),
  description: d.description,
  label_zh: d.labelZh,
  eval_count: d.evalCount,
});

const presentTaxonomy = (taxonomy: TaxonomyIndex) => ({
  types: taxonomy.types.map((t) => ({
    name: t.name,
    slug: slugify(t.name),
    description: t.description,
    dimensions: t.dimensions.map(presentDimension),
  })),
});

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
  .openapi(listRoute, async (c) => c.json(presentTaxonomy(await loadTaxonomyIndex(c.env.DB)), 200))
  .openapi(oneRoute, async (c) => {
    const wanted = c.req.valid("param").dimension.trim();
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const name = resolveDimension(taxonomy, wanted);
    const found = taxonomy.dimensions.find((d) => d.name === name);
    if (found) return c.json({ ...presentDimension(found), type: found.type }, 200);
    throw new ProblemError(404, "not-found", `No constraint dimension named "${wanted}".`, [
      { field: "path.dimension", message: "unknown dimension" },
    ]);
  });
