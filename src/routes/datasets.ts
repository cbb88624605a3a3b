import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validateConstraintChecker } from "../datasets/checkers";
import { SHARD_FORMATS, type ShardFormat } from "../datasets/export";
import { RECORD_KINDS, RecordSchema } from "../datasets/records";
import {
  appendRecords,
  createDataset,
  createVersion,
  datasetStatistics,
  findDataset,
  findVersion,
  listDatasets,
  listVersions,
  MAX_RECORDS_PER_REQUEST,
  parseRecordsBody,
  prepareRecords,
  queryRows,
  shardCount,
  shardName,
  shardStream,
  shardSummaries,
  toRecord,
  visibleDataset,
  type DatasetRow,
  type VersionRow,
} from "../datasets/store";
import { createJob, findJob, listJobs, prepareTarget, presentJob, runJobSteps } from "../datasets/jobs";
import { BUILD_OPS } from "../datasets/quadruples";
import { loadTaxonomyIndex, resolveDimension } from "../datasets/taxonomy";
import type { AppEnv } from "../env";
import type { UsageObserver } from "../judge/llm";
import { withUsage } from "../pipelines/llm";
import { llmJudgeFor } from "./judge";
import { requireScope } from "../lib/auth";
import { acceptBody, bodyText, JSON_TYPES, NDJSON_TYPES, requestMediaType } from "../lib/middleware";
import { createRouter, jsonContent, problemResponses, queryInt } from "../lib/openapi";
import { problem, ProblemError } from "../lib/problem";
import { MAX_ORDER_SIZE, permutation, rankLength, rankSlice } from "@iopo/common";

const security = [{ bearer: [] }];
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

export const DatasetName = z
  .string()
  .regex(NAME_PATTERN, "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100")
  .openapi({ example: "trace-eval" });

const DatasetSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    visibility: z.enum(["public", "private"]),
    record_count: z.number().int(),
    created_at: z.string(),
  })
  .openapi("Dataset");

const VersionSchema = z
  .object({
    version: z.number().int(),
    record_count: z.number().int(),
    shard_size: z.number().int(),
    shard_count: z.number().int(),
    description: z.string(),
    created_at: z.string(),
  })
  .openapi("DatasetVersion");

const presentDataset = (d: DatasetRow) => ({
  name: d.name,
  description: d.description,
  visibility: d.visibility,
  record_count: d.record_count,
  created_at: d.created_at,
});
const presentVersion = (v: VersionRow) => ({
  version: v.version,
  record_count: v.record_count,
  shard_size: v.shard_size,
  shard_count: shardCount(v),
  description: v.description,
  created_at: v.created_at,
});

export const nameParam = z.object({ name: DatasetName });
const versionParam = nameParam.extend({
  version: z
    .string()
    .regex(/^(latest|[1-9][0-9]{0,8})$/, "a version number or `latest`")
    .openapi({ example: "1" }),
});
const formatQuery = z.enum(SHARD_FORMATS).default("records").openapi({
  description: "records: stored records; iopo: {x1,y1,x2,y2}; dpo: {prompt,chosen,rejected}; sft: {prompt,response}; llamafactory: the IOPO authors' shape",
});

async function resolveVersion(c: Context<AppEnv>, dataset: DatasetRow, version: string): Promise<VersionRow> {
  if (version === "latest") {
    const all = await listVersions(c.env.DB, dataset);
    if (all.length === 0) throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no versions yet.`, [{ field: "path.version", message: "no versions" }]);
    return all[all.length - 1]!;
  }
  return findVersion(c.env.DB, dataset, Number(version));
}

// --- routes ----------------------------------------------------------------------------------

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
          schema: z
            .object({
              name: DatasetName,
              description: z.string().max(5000).default(""),
              visibility: z.enum(["public", "private"]).default("public"),
            })
            .strict(),
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
    200: jsonContent(
      DatasetSchema.extend({
        statistics: z.object({
          by_kind: z.record(z.string(), z.number()),
          constraints_histogram: z.record(z.string(), z.number()).openapi({ description: "constraints per (first) instruction → records" }),
          constraints_by_type: z.record(z.string(), z.number()),
          constraints_by_dimension: z.record(z.string(), z.number()),
        }),
        versions: z.array(VersionSchema),
      }),
      "The dataset",
    ),
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
    `At most ${MAX_RECORDS_PER_REQUEST} records per request.`,
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
    200: jsonContent(
      z.object({ received: z.number().int(), inserted: z.number().int(), duplicates: z.number().int(), record_count: z.number().int() }).openapi("IngestResult"),
      "What was added",
    ),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
  },
});

const rowsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/rows",
  tags: ["Datasets"],
  summary: "Browse records",
  description:
    "Pages of at most 100. Without filters `offset` is a seek on the dense position index; with filters, prefer `after` (the `next_after` of the previous page) for keyset paging.",
  middleware: [requireScope("read")] as const,
  request: {
    params: nameParam,
    query: z.object({
      offset: queryInt(0, 2 ** 31).optional().openapi({ description: "skip this many matching rows (not with `after`)" }),
      after: queryInt(-1, 2 ** 31).optional().openapi({ description: "return rows after this position (not with `offset`)" }),
      length: queryInt(1, 100).default(100),
      kind: z.enum(RECORD_KINDS).optional(),
      dimension: z.string().min(1).max(200).optional(),
      constraints: queryInt(0, 1000).optional(),
      min_constraints: queryInt(0, 1000).optional(),
      max_constraints: queryInt(0, 1000).optional(),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({
        rows: z.array(z.object({ row_idx: z.number().int(), id: z.string(), row: z.record(z.string(), z.unknown()) })),
        num_rows_total: z.number().int(),
        next_after: z.number().int().nullable(),
      }),
      "A page of records",
    ),
    ...problemResponses(401, 403, 404, 422),
  },
});

const createVersionRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/versions",
  tags: ["Versions and shards"],
  summary: "Freeze the current records into an immutable version",
  description:
    "A version is the dataset's first `record_count` records in position order, cut into shards of `shard_size` records. " +
    "Freezing again with nothing added (and the same `shard_size`) returns the latest version (200) instead of a duplicate.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: nameParam,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z
            .object({
              shard_size: z.number().int().min(1).max(100_000).default(1000),
              description: z.string().max(5000).default(""),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: jsonContent(VersionSchema, "The new version"),
    200: jsonContent(VersionSchema, "The latest version, which already holds exactly these records with this shard size (no duplicate is made)"),
    ...problemResponses(400, 401, 403, 404, 415, 422),
  },
});

const listVersionsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions",
  tags: ["Versions and shards"],
  summary: "A dataset's versions",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: { 200: jsonContent(z.object({ versions: z.array(VersionSchema) }), "Versions"), ...problemResponses(401, 403, 404) },
});

const manifestRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions/{version}/manifest",
  tags: ["Versions and shards"],
  summary: "Shard manifest: counts, byte sizes and SHA-256 of each shard's exact NDJSON body",
  middleware: [requireScope("read")] as const,
  request: { params: versionParam, query: z.object({ format: formatQuery }) },
  responses: {
    200: jsonContent(
      z
        .object({
          dataset: z.string(),
          version: z.number().int(),
          format: z.enum(SHARD_FORMATS),
          record_count: z.number().int(),
          line_count: z.number().int(),
          shard_size: z.number().int(),
          shard_count: z.number().int(),
          shards: z.array(
            z.object({
              index: z.number().int(),
              name: z.string(),
              records: z.number().int(),
              lines: z.number().int(),
              bytes: z.number().int(),
              sha256: z.string(),
              url: z.string(),
            }),
          ),
        })
        .openapi("Manifest"),
      "The manifest",
    ),
    ...problemResponses(401, 403, 404, 422),
  },
});

const shardRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions/{version}/shards/{index}",
  tags: ["Versions and shards"],
  summary: "Stream one shard as NDJSON",
  description:
    "Streamed, never built whole in memory. Strong ETag (the body's SHA-256), `If-None-Match` (304), and `Range: bytes=` (206) with `If-Range`, so an interrupted download resumes.",
  middleware: [requireScope("read")] as const,
  request: {
    params: versionParam.extend({ index: z.string().regex(/^(0|[1-9][0-9]{0,8})$/, "a shard index") }),
    query: z.object({ format: formatQuery }),
  },
  responses: {
    200: { description: "The shard", content: { "application/x-ndjson": { schema: z.string() } } },
    206: { description: "A byte range of the shard" },
    304: { description: "Unchanged (ETag matched)" },
    ...problemResponses(401, 403, 404, 416, 422),
  },
});

const orderRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/versions/{version}/order",
  tags: ["Versions and shards"],
  summary: "The deterministic sample order for a seed and epoch, split across ranks",
  description:
    "Position k of an epoch is a keyed Feistel permutation of the record indices (@iopo/common's order, which the trainer imports too). Rank r of world size w gets positions r, r+w, ...; `from` is the rank's own sample index, so a trainer resumes exactly.",
  middleware: [requireScope("read")] as const,
  request: {
    params: versionParam,
    query: z.object({
      seed: queryInt(0, Number.MAX_SAFE_INTEGER).default(0),
      epoch: queryInt(0, 1_000_000).default(0),
      rank: queryInt(0, 65535).default(0),
      world_size: queryInt(1, 65536).default(1),
      from: queryInt(0, Number.MAX_SAFE_INTEGER).default(0),
      limit: queryInt(1, 10_000).default(1000),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({
        seed: z.number().int(),
        epoch: z.number().int(),
        rank: z.number().int(),
        world_size: z.number().int(),
        record_count: z.number().int(),
        rank_total: z.number().int(),
        from: z.number().int(),
        indices: z.array(z.number().int()),
        next: z.number().int().nullable(),
      }),
      "Record indices in training order",
    ),
    ...problemResponses(401, 403, 404, 422),
  },
});

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.enum(["pending", "running", "done", "failed"]),
    params: z.record(z.string(), z.unknown()),
    cursor: z.number().int().openapi({ description: "next source position to process" }),
    total: z.number().int(),
    progress: z.record(z.string(), z.unknown()),
    error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Job");

const createBuildJobRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/build-quadruples",
  tags: ["Jobs"],
  summary: "Start building IOPO quadruples from this dataset's SFT records",
  description:
    "For each sft record (x1, y1) with verifiable constraints: x2 by ADD, DELETE or REVISE so that the judge says y1 fails it, y2 from other responses to the same task that satisfy x2; " +
    "kept only if y1|x1 and y2|x2 pass and y1|x2 fails (verdicts stored with the record). With `llm: true`, records with free-text constraints take the LLM path instead (the LLM edits x1 into x2, the judge confirms y1 fails it, the LLM answers x2, the judge keeps y2 only if it passes every constraint, a final LLM check); rejects are listed at `.../jobs/{id}/rejects`. Output goes to `target` (created if missing). " +
    "The job covers the records present now; drive it with `POST .../jobs/{id}/run` or `npx iopo build-quadruples`.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: nameParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              target: DatasetName,
              ops: z.array(z.enum(BUILD_OPS)).min(1).default([...BUILD_OPS]),
              seed: z.number().int().min(0).max(2 ** 31).default(0),
              batch_size: z.number().int().min(1).max(500).default(50),
              max_candidates: z.number().int().min(1).max(200).default(24),
              llm: z.boolean().default(false).openapi({ description: "records with free-text constraints go through the LLM path (edit, judge, answer, check); verifiable ones keep the rules" }),
              visibility: z.enum(["public", "private"]).optional().openapi({ description: "for a new target; default: the source's" }),
            })
            .strict(),
        },
      },
    },
  },
  responses: { 201: jsonContent(JobSchema, "The job"), ...problemResponses(400, 401, 403, 404, 415, 422) },
});

const listJobsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs",
  tags: ["Jobs"],
  summary: "Jobs over this dataset",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: { 200: jsonContent(z.object({ jobs: z.array(JobSchema) }), "Jobs, newest first"), ...problemResponses(401, 403, 404) },
});

const jobParam = nameParam.extend({ id: z.string().uuid() });

const getJobRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}",
  tags: ["Jobs"],
  summary: "A job's status and progress",
  middleware: [requireScope("read")] as const,
  request: { params: jobParam },
  responses: { 200: jsonContent(JobSchema, "The job"), ...problemResponses(401, 403, 404, 422) },
});

const runJobRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/{id}/run",
  tags: ["Jobs"],
  summary: "Process the job's next batches",
  description:
    "Runs up to `max_batches` batches (within about 20 s). Each batch commits its output and the cursor advance atomically, so an interrupted run resumes exactly; `busy` means another runner holds the job.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: jobParam,
    body: { required: false, content: { "application/json": { schema: z.object({ max_batches: z.number().int().min(1).max(1000).default(10) }).strict() } } },
  },
  responses: {
    200: jsonContent(z.object({ job: JobSchema, ran: z.number().int(), busy: z.boolean(), interrupted: z.string().optional() }), "The job after this run"),
    ...problemResponses(401, 403, 404, 415, 422),
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
    const parsed = parseRecordsBody(await bodyText(c), requestMediaType(c) !== "application/json");
    if (parsed.records.length + parsed.errors.length > MAX_RECORDS_PER_REQUEST) {
      throw new ProblemError(413, "payload-too-large", `At most ${MAX_RECORDS_PER_REQUEST} records per request; split the upload.`);
    }
    if (parsed.records.length === 0 && parsed.errors.length === 0) {
      throw new ProblemError(422, "validation", "The body holds no records.", [{ field: "body", message: "empty" }]);
    }
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const { prepared, errors } = await prepareRecords(parsed, taxonomy.dimensionNames, validateConstraintChecker);
    if (errors.length > 0) {
      const lines = [...new Set(errors.map((e) => e.line).filter((l) => l !== undefined))];
      throw new ProblemError(
        422,
        "validation",
        `${lines.length} record(s) are invalid (lines ${lines.slice(0, 20).join(", ")}${lines.length > 20 ? ", ..." : ""}); nothing was written.`,
        errors.slice(0, 200),
      );
    }
    return c.json(await appendRecords(c.env.DB, dataset, prepared), 200);
  })
  .openapi(rowsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    const q = c.req.valid("query");
    if (q.offset !== undefined && q.after !== undefined) {
      throw new ProblemError(422, "validation", "Page with `offset` or with `after`, not both.", [{ field: "query.after", message: "not allowed with offset" }]);
    }
    let dimension = q.dimension;
    if (dimension !== undefined) {
      const taxonomy = await loadTaxonomyIndex(c.env.DB);
      dimension = resolveDimension(taxonomy, dimension);
      if (!dimension) throw new ProblemError(422, "validation", `Unknown TRACE dimension "${q.dimension}".`, [{ field: "query.dimension", message: "unknown dimension" }]);
    }
    const { rows, total } = await queryRows(
      c.env.DB,
      dataset.id,
      { kind: q.kind, dimension, constraints: q.constraints, minConstraints: q.min_constraints, maxConstraints: q.max_constraints },
      { offset: q.offset, after: q.after, length: q.length },
    );
    const last = rows[rows.length - 1];
    return c.json(
      {
        rows: rows.map((r) => ({ row_idx: r.position, id: r.id, row: toRecord(r) as unknown as Record<string, unknown> })),
        num_rows_total: total,
        next_after: rows.length === q.length && last ? last.position : null,
      },
      200,
    );
  })
  .openapi(createVersionRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "write");
    const body = c.req.valid("json") ?? {};
    const { version, created } = await createVersion(c.env.DB, dataset, body.shard_size ?? 1000, body.description ?? "");
    return created ? c.json(presentVersion(version), 201) : c.json(presentVersion(version), 200);
  })
  .openapi(listVersionsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    return c.json({ versions: (await listVersions(c.env.DB, dataset)).map(presentVersion) }, 200);
  })
  .openapi(manifestRoute, async (c) => {
    const { name, version: v } = c.req.valid("param");
    const { format } = c.req.valid("query");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const version = await resolveVersion(c, dataset, v);
    const summaries = await shardSummaries(c.env.DB, version, format);
    const count = shardCount(version);
    return c.json(
      {
        dataset: dataset.name,
        version: version.version,
        format,
        record_count: version.record_count,
        line_count: summaries.reduce((n, s) => n + s.lines, 0),
        shard_size: version.shard_size,
        shard_count: count,
        shards: summaries.map((s) => ({
          index: s.shard,
          name: shardName(s.shard, count),
          records: s.records,
          lines: s.lines,
          bytes: s.bytes,
          sha256: s.sha256,
          url: `/v1/datasets/${dataset.name}/versions/${version.version}/shards/${s.shard}?format=${format}`,
        })),
      },
      200,
    );
  })
  .openapi(shardRoute, async (c) => {
    const { name, version: v, index } = c.req.valid("param");
    const { format } = c.req.valid("query");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const version = await resolveVersion(c, dataset, v);
    const shard = Number(index);
    const count = shardCount(version);
    if (shard >= count) {
      throw new ProblemError(404, "not-found", `Version ${version.version} has ${count} shard(s); there is no shard ${shard}.`, [{ field: "path.index", message: "out of range" }]);
    }
    const summary = (await shardSummaries(c.env.DB, version, format))[shard]!;
    return serveShard(c, version, shard, format as ShardFormat, summary, shardName(shard, count));
  })
  .openapi(orderRoute, async (c) => {
    const { name, version: v } = c.req.valid("param");
    const q = c.req.valid("query");
    if (q.rank >= q.world_size) {
      throw new ProblemError(422, "validation", `rank must be below world_size (${q.world_size}).`, [{ field: "query.rank", message: "must be < world_size" }]);
    }
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const version = await resolveVersion(c, dataset, v);
    if (version.record_count > MAX_ORDER_SIZE) throw new ProblemError(422, "validation", "Version too large for the order endpoint.");
    const perm = permutation(version.record_count, q.seed, q.epoch);
    const total = rankLength(version.record_count, q.rank, q.world_size);
    const indices = rankSlice(perm, q.rank, q.world_size, q.from, q.limit);
    const next = q.from + indices.length;
    return c.json(
      {
        seed: q.seed,
        epoch: q.epoch,
        rank: q.rank,
        world_size: q.world_size,
        record_count: version.record_count,
        rank_total: total,
        from: q.from,
        indices,
        next: next < total ? next : null,
      },
      200,
    );
  });

datasetRoutes
  .openapi(createBuildJobRoute, async (c) => {
    const principal = c.get("principal");
    const source = await findDataset(c.env.DB, c.req.valid("param").name, principal, "read");
    const body = c.req.valid("json");
    await prepareTarget(c.env.DB, source, body.target, body.visibility, principal, `IOPO quadruples built from ${source.name}`);
    const { visibility: _visibility, ...params } = body;
    return c.json(presentJob(await createJob(c.env.DB, source, "build-quadruples", params)), 201);
  })
  .openapi(listJobsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    return c.json({ jobs: (await listJobs(c.env.DB, dataset)).map(presentJob) }, 200);
  })
  .openapi(getJobRoute, async (c) => {
    const { name, id } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    return c.json(presentJob(await findJob(c.env.DB, dataset, id)), 200);
  })
  .openapi(runJobRoute, async (c) => {
    const { name, id } = c.req.valid("param");
    const principal = c.get("principal");
    const source = await findDataset(c.env.DB, name, principal, "read");
    const job = await findJob(c.env.DB, source, id);
    const target = await findDataset(c.env.DB, (JSON.parse(job.params) as { target: string }).target, principal, "write");
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const body = c.req.valid("json") ?? {};
    const context = { validateChecker: validateConstraintChecker, dimensionNames: taxonomy.dimensionNames, llm: (usage: UsageObserver) => withUsage(llmJudgeFor(c.env), usage) };
    const result = await runJobSteps(c.env.DB, source, target, id, context, { maxBatches: body.max_batches ?? 10, budgetMs: 20_000 });
    return c.json({ job: presentJob(result.job), ran: result.ran, busy: result.busy, ...(result.interrupted ? { interrupted: result.interrupted } : {}) }, 200);
  });

function serveShard(
  c: Context<AppEnv>,
  version: VersionRow,
  shard: number,
  format: ShardFormat,
  summary: { bytes: number; sha256: string },
  filename: string,
): Response {
  const etag = `"${summary.sha256}"`;
  const headers: Record<string, string> = {
    "content-type": "application/x-ndjson; charset=utf-8",
    etag,
    "accept-ranges": "bytes",
    // immutable: a version never changes
    "cache-control": "public, max-age=31536000, immutable",
    "content-disposition": `inline; filename="${filename}"`,
  };
  const ifNoneMatch = c.req.header("if-none-match");
  // If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
  if (ifNoneMatch && ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")) {
    return new Response(null, { status: 304, headers: { etag, "cache-control": headers["cache-control"]! } });
  }
  const rangeHeader = c.req.header("range");
  const ifRange = c.req.header("if-range");
  if (rangeHeader && (!ifRange || ifRange.trim() === etag)) {
    const range = parseRange(rangeHeader, summary.bytes);
    if (range === "unsatisfiable") {
      return problem(c, 416, "range-not-satisfiable", `The range "${rangeHeader}" lies outside the shard's ${summary.bytes} bytes (or ends before it starts).`, [{ field: "header.range", message: `expected bytes=first-last within 0-${summary.bytes - 1}` }], {
        "content-range": `bytes */${summary.bytes}`,
        etag,
      });
    }
    if (range) {
      return new Response(shardStream(c.env.DB, version, shard, format, range), {
        status: 206,
        headers: {
          ...headers,
          "content-range": `bytes ${range.start}-${range.end}/${summary.bytes}`,
          "content-length": String(range.end - range.start + 1),
        },
      });
    }
  }
  return new Response(shardStream(c.env.DB, version, shard, format), {
    status: 200,
    headers: { ...headers, "content-length": String(summary.bytes) },
  });
}

/** One `bytes=` range (the only kind resuming clients send); null = ignore the header. */
function parseRange(header: string, size: number): { start: number; end: number } | "unsatisfiable" | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
