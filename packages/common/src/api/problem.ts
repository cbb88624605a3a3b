import { z } from "@hono/zod-openapi";

/** One invalid field of a request, as a problem document names it. */
export const FieldErrorSchema = z.object({ field: z.string(), message: z.string(), line: z.number().int().optional() });

/**
 * RFC 9457 problem details: every error the API returns has this shape (`application/problem+json`).
 * `field` is a JSON-pointer-like path ("body.scopes.0", "query.length"); `line` the 1-based line of
 * an NDJSON body, when the error is about one line.
 */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "/docs#problem-validation" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem");
