import { z } from "@hono/zod-openapi";

/** The TRACE constraint taxonomy on the wire (GET /v1/taxonomy, /v1/taxonomy/dimensions/{slug}): types, each with its dimensions. */

export const DimensionSchema = z
  .object({
    name: z.string().openapi({ example: "Inclusion Constraint" }),
    slug: z.string().openapi({ example: "inclusion-constraint" }),
    description: z.string(),
    label_zh: z.string().openapi({ example: "包含约束" }),
    eval_count: z.number().int().openapi({ description: "Occurrences in the TRACE evaluation set" }),
  })
  .openapi("Dimension");

export const ConstraintTypeSchema = z
  .object({
    name: z.string().openapi({ example: "Content Constraint" }),
    slug: z.string(),
    description: z.string(),
    dimensions: z.array(DimensionSchema),
  })
  .openapi("ConstraintType");

export const TaxonomySchema = z.object({ types: z.array(ConstraintTypeSchema) }).openapi("Taxonomy");
export const DimensionWithTypeSchema = DimensionSchema.extend({ type: z.string() }).openapi("DimensionWithType");
