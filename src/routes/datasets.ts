import { createRoute, z } from "@hono/zod-openapi";
import { validateConstraintChecker } from "../datasets/checkers.ts";
import { RECORD_KINDS, RecordSchema } from "../datasets/records.ts";
import { createDataset, findDataset, listDatasets } from "../datasets/store/access.ts";
import { ingestBody } from "../datasets/store/ingest.ts";
import { browseRows, datasetStatistics } from "../datasets/store/rows.ts";
import { listVersions } from "../datasets/store/versions.ts";
import { loadTaxonomyIndex } from "../datasets/taxonomy.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses, queryInt } from "../lib/openapi.ts";
import { LIMITS } from "@iopo/common";
import { CreateDatasetBody, DatasetDetailSchema, DatasetSchema, IngestResultSchema, RowsPageSchema } from "@iopo/common/api";
import { nameParam, presentDataset, presentVersion } from "./dataset-schemas.ts";

/** Datasets: list, create, read with statistics, add records, browse rows. */

const security = [{ bearer: [] }];

const listRoute = createRoute({
  method: "get",
  path: "/v1/datasets",
  tags: ["Datasets"],
  summary: "List the datasets this caller may read",
  middleware: [requireScope("read")] as const,
  responses: { 200: jsonContent(z.object({ datasets: z.array(DatasetSchema) }), "Datasets"), ...problemResponses(401, 403) },
});

const createDatasetRoute = createRoute({
  method: "post",
  path: "/v1/datasets",
  tags: ["Datasets"],
  summary: "Create a dataset",
  description:
    "The calling key owns it: only the owner or an admin may write to it, and a private dataset is invisible (404) to everyone else. " +
    "A private dataset's name lives in its owner's namespace: another key may create a dataset of the same name (409 only for a name the caller can see), and each caller's own dataset of a name comes before the public one.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: CreateDatasetBody,
        },
      },
    },
  },
  responses: { 201: jsonContent(DatasetSchema, "Created"), ...problemResponses(400, 401, 403, 409, 415, 422) },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}",
  tags: ["Datasets"],
  summary: "A dataset with its statistics and versions",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: {
    200: jsonContent(DatasetDetailSchema, "The dataset"),
    ...problemResponses(401, 403, 404),
  },
});

const ingestRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/records",
  tags: ["Datasets"],
  summary: "Add records (NDJSON, or a JSON array)",
  description:
    `Every line is validated first; any invalid line rejects the whole request (422 listing line numbers and fields) and nothing is written. ` +
    `An accepted request is atomic and idempotent: a record's id is the SHA-256 of its canonical JSON, so re-sending adds nothing and is counted in \`duplicates\`. ` +
    `At most ${LIMITS.recordsPerRequest} records per request.`,
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES, ...NDJSON_TYPES)] as const,
  request: {
    params: nameParam,
    body: {
      required: true,
      // Plain OpenAPI schemas (not zod): the route parses and validates line by line itself,
      // so that errors carry line numbers and NDJSON is accepted.
      content: {
        "application/x-ndjson": { schema: { $ref: "#/components/schemas/Record" } },
        "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/Record" } } },
      },
    },
  },
  responses: {
    200: jsonContent(IngestResultSchema, "What was added"),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
  },
});

const rowsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/rows",
  tags: ["Datasets"],
  summary: "Browse records",
  description: `Pages of at most ${LIMITS.rowsPage}. Without filters \`offset\` is a seek on the dense position index; with filters, prefer \`after\` (the \`next_after\` of the previous page) for keyset paging.`,
  middleware: [requireScope("read")] as const,
  request: {
    params: nameParam,
    query: z.object({
      offset: queryInt(0, 2 ** 31)
        .optional()
        .openapi({ description: "skip this many matching rows (not with `after`)" }),
      after: queryInt(-1, 2 ** 31)
        .optional()
        .openapi({ description: "return rows after this position (not with `offset`)" }),
      length: queryInt(1, LIMITS.rowsPage).default(LIMITS.rowsPage),
      kind: z.enum(RECORD_KINDS).optional(),
      dimension: z.string().min(1).max(200).optional(),
      constraints: queryInt(0, 1000).optional(),
      min_constraints: queryInt(0, 1000).optional(),
      max_constraints: queryInt(0, 1000).optional(),
      type: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .openapi({ description: "a TRACE constraint type: records with a constraint of one of its dimensions" }),
      min_instruction_chars: queryInt(0, 2 ** 31)
        .optional()
        .openapi({ description: "characters of the rendered (first) prompt, at least" }),
      max_instruction_chars: queryInt(0, 2 ** 31).optional(),
      min_response_chars: queryInt(0, 2 ** 31)
        .optional()
        .openapi({ description: "characters of the (first) response, at least" }),
      max_response_chars: queryInt(0, 2 ** 31).optional(),
    }),
  },
  responses: {
    200: jsonContent(RowsPageSchema, "A page of records"),
    ...problemResponses(401, 403, 404, 422),
  },
});

const router = createRouter();
router.openAPIRegistry.register("Record", RecordSchema);

export const datasetRoutes = router
  .openapi(listRoute, async (c) => {
    const rows = await listDatasets(c.env.DB, c.get("principal"));
    return c.json({ datasets: rows.map(presentDataset) }, 200);
  })
  .openapi(createDatasetRoute, async (c) => {
    const row = await createDataset(c.env.DB, c.req.valid("json"), c.get("principal"));
    return c.json(presentDataset(row), 201);
  })
  .openapi(getRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const [statistics, versions] = await Promise.all([
      datasetStatistics(c.env.DB, dataset.id, taxonomy.typeOfDimension),
      listVersions(c.env.DB, dataset),
    ]);
    return c.json({ ...presentDataset(dataset), statistics, versions: versions.map(presentVersion) }, 200);
  })
  .openapi(ingestRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "write");
    const body = { text: await bodyText(c), isNdjson: requestMediaType(c) !== "application/json" };
    return c.json(await ingestBody(c.env.DB, dataset, body, validateConstraintChecker), 200);
  })
  .openapi(rowsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    return c.json(await browseRows(c.env.DB, dataset.id, c.req.valid("query")), 200);
  });
