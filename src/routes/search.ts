import { createRoute, z } from "@hono/zod-openapi";
import { findDataset } from "../datasets/store/access.ts";
import { searchDataset, TRIGRAM } from "../datasets/store/search.ts";
import { requireScope } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses, queryInt } from "../lib/openapi.ts";
import { LIMITS } from "@iopo/common";
import { SearchPageSchema } from "@iopo/common/api";
import { nameParam } from "./dataset-schemas.ts";

/** Full-text search over a dataset's prompts and responses. */

const searchRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/search",
  tags: ["Datasets"],
  summary: "Search a dataset's prompts and responses",
  description:
    `Records containing every whitespace-separated term of \`q\` (case-insensitive substrings, Chinese included), in their prompts or responses, ranked by bm25. ` +
    `Terms of ${TRIGRAM} characters or more use the trigram full-text index; a shorter term scans the dataset's texts (in position order), which only datasets of at most ${LIMITS.searchScanRecords} records allow.`,
  middleware: [requireScope("read")] as const,
  request: {
    params: nameParam,
    query: z.object({
      q: z.string().trim().min(1).max(200).openapi({ example: "中文回答" }),
      offset: queryInt(0, LIMITS.searchOffset).default(0),
      length: queryInt(1, LIMITS.rowsPage).default(LIMITS.rowsPage),
    }),
  },
  responses: { 200: jsonContent(SearchPageSchema, "A page of matching records"), ...problemResponses(401, 403, 404, 422) },
});

export const searchRoutes = createRouter().openapi(searchRoute, async (c) => {
  const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
  return c.json(await searchDataset(c.env.DB, dataset, c.req.valid("query")), 200);
});
