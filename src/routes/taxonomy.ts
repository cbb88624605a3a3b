import { createRoute, z } from "@hono/zod-openapi";
import { findDimension, loadTaxonomy } from "../datasets/store/taxonomy.ts";
import { requireScope } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { DimensionWithTypeSchema, TaxonomySchema } from "@iopo/common/api";

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
  .openapi(oneRoute, async (c) => c.json(await findDimension(c.env.DB, c.req.valid("param").dimension), 200));
