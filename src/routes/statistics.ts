import { createRoute } from "@hono/zod-openapi";
import { findDataset } from "../datasets/store/access.ts";
import { datasetStatistics } from "../datasets/store/rows.ts";
import { loadTaxonomyIndex } from "../datasets/taxonomy.ts";
import { requireScope } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { DatasetStatisticsSchema } from "@iopo/common/api";
import { nameParam } from "./dataset-schemas.ts";
import { namedVersion } from "../datasets/frozen-versions.ts";
import { versionParam } from "./versions.ts";

/** Statistics of a dataset's live records and of a frozen version (computed by datasetStatistics). */

const liveRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/statistics",
  tags: ["Datasets"],
  summary: "Statistics of a dataset's records",
  description:
    "Counts by kind, constraints per instruction, constraints by TRACE type and dimension, and histograms of prompt and response lengths.",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: { 200: jsonContent(DatasetStatisticsSchema, "The statistics"), ...problemResponses(401, 403, 404) },
});

const versionRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions/{version}/statistics",
  tags: ["Datasets"],
  summary: "Statistics of a frozen version",
  description: "As for the dataset, over the version's records only (`version` may be `latest`).",
  middleware: [requireScope("read")] as const,
  request: { params: versionParam },
  responses: { 200: jsonContent(DatasetStatisticsSchema, "The statistics"), ...problemResponses(401, 403, 404) },
});

export const statisticsRoutes = createRouter()
  .openapi(liveRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const statistics = await datasetStatistics(c.env.DB, dataset.id, taxonomy.typeOfDimension);
    return c.json({ dataset: dataset.name, version: null, record_count: dataset.recordCount, statistics }, 200);
  })
  .openapi(versionRoute, async (c) => {
    const { name, version: v } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const version = await namedVersion(c.env.DB, dataset, v);
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const statistics = await datasetStatistics(c.env.DB, dataset.id, taxonomy.typeOfDimension, version.recordCount);
    return c.json({ dataset: dataset.name, version: version.version, record_count: version.recordCount, statistics }, 200);
  });
