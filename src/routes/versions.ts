import { createRoute, z } from "@hono/zod-openapi";
import { freezeVersion, frozenShard, frozenVersion, sampleOrder, versionManifest } from "../datasets/frozen-versions.ts";
import { findDataset } from "../datasets/store/access.ts";
import { listVersions } from "../datasets/store/versions.ts";
import { requireScope } from "../lib/auth.ts";
import { serveImmutable } from "../lib/http-range.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses, queryInt } from "../lib/openapi.ts";
import { CreateVersionBody, ManifestSchema, SHARD_FORMATS, VersionSchema } from "@iopo/common/api";
import { nameParam, presentVersion } from "./dataset-schemas.ts";

/** Versions and shards: freeze, list, manifest, stream a shard, the sample order (the work is src/datasets/frozen-versions.ts). */

const security = [{ bearer: [] }];

export const versionParam = nameParam.extend({
  version: z
    .string()
    .regex(/^(latest|[1-9][0-9]{0,8})$/, "a version number or `latest`")
    .openapi({ example: "1" }),
});
const formatQuery = z.enum(SHARD_FORMATS).default("records").openapi({
  description:
    "records: stored records; iopo: {x1,y1,x2,y2}; dpo: {prompt,chosen,rejected}; sft: {prompt,response}; llamafactory: the IOPO authors' shape",
});

const createVersionRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/versions",
  tags: ["Versions and shards"],
  summary: "Freeze the current records into an immutable version",
  description:
    "A version is the dataset's first `record_count` records in position order, cut into shards of `shard_size` records. " +
    "Its shards are written by a `freeze-version` job, a bounded number per step (an invocation may make only so many D1 and R2 calls): " +
    "a version that fits one step is frozen within the request (201); a larger one is `freezing` (202) while the job queue writes it — watch `freeze_job` at `GET .../jobs/{id}`, pause or cancel it there — " +
    "and its manifest, shards and order answer 409 until it is `frozen`. " +
    "Freezing again with nothing added (and the same `shard_size`) returns the latest version (200) instead of a duplicate, unless its freeze was cancelled.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: nameParam,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: CreateVersionBody,
        },
      },
    },
  },
  responses: {
    201: jsonContent(VersionSchema, "The new version, frozen"),
    202: jsonContent(VersionSchema, "The new version, `freezing`: its job writes the shards"),
    200: jsonContent(
      VersionSchema,
      "The latest version, which already holds exactly these records with this shard size (no duplicate is made)",
    ),
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
    200: jsonContent(ManifestSchema, "The manifest"),
    ...problemResponses(401, 403, 404, 409, 422),
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
    ...problemResponses(401, 403, 404, 409, 416, 422),
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
    ...problemResponses(401, 403, 404, 409, 422),
  },
});

export const versionRoutes = createRouter()
  .openapi(createVersionRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "write");
    const body = c.req.valid("json") ?? {};
    const { version, status } = await freezeVersion(c.env, dataset, c.get("principal"), {
      shardSize: body.shard_size ?? 1000,
      description: body.description ?? "",
    });
    return c.json(presentVersion(version), status);
  })
  .openapi(listVersionsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    return c.json({ versions: (await listVersions(c.env.DB, dataset)).map(presentVersion) }, 200);
  })
  .openapi(manifestRoute, async (c) => {
    const { name, version } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const frozen = await frozenVersion(c.env.DB, dataset, version);
    return c.json(await versionManifest(c.env, dataset, frozen, c.req.valid("query").format), 200);
  })
  .openapi(shardRoute, async (c) => {
    const { name, version, index } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const frozen = await frozenVersion(c.env.DB, dataset, version);
    const waitUntil = (promise: Promise<unknown>) => c.executionCtx.waitUntil(promise);
    const shard = await frozenShard(c.env, waitUntil, dataset, frozen, c.req.valid("query").format, Number(index));
    return serveImmutable(c, {
      etag: `"${shard.summary.sha256}"`,
      size: shard.summary.bytes,
      noun: "the shard",
      headers: { "content-type": "application/x-ndjson; charset=utf-8", "content-disposition": `inline; filename="${shard.name}"` },
      stream: shard.body,
    });
  })
  .openapi(orderRoute, async (c) => {
    const { name, version } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    return c.json(sampleOrder(await frozenVersion(c.env.DB, dataset, version), c.req.valid("query")), 200);
  });
