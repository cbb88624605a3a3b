import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { findDataset, type DatasetRow } from "../datasets/store/access.ts";
import { frozenShardBody } from "../datasets/store/shards.ts";
import {
  createVersion,
  findVersion,
  freezeShards,
  listVersions,
  requireFormat,
  rewriteShard,
  shardCount,
  shardName,
  shardSummaries,
  shardSummary,
  type VersionRow,
} from "../datasets/store/versions.ts";
import type { AppEnv } from "../env.ts";
import { requireScope } from "../lib/auth.ts";
import { serveImmutable } from "../lib/http-range.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses, queryInt } from "../lib/openapi.ts";
import { ProblemError } from "../lib/problem.ts";
import { MAX_ORDER_SIZE, permutation, rankLength, rankSlice } from "@iopo/common";
import { CreateVersionBody, ManifestSchema, SHARD_FORMATS, VersionSchema } from "@iopo/common/api";
import { nameParam, presentVersion } from "./dataset-schemas.ts";

/** Versions and shards: freeze, list, manifest, stream a shard, the sample order. */

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

export async function resolveVersion(c: Context<AppEnv>, dataset: DatasetRow, version: string): Promise<VersionRow> {
  if (version === "latest") {
    const all = await listVersions(c.env.DB, dataset);
    if (all.length === 0)
      throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no versions yet.`, [
        { field: "path.version", message: "no versions" },
      ]);
    return all[all.length - 1]!;
  }
  return findVersion(c.env.DB, dataset, Number(version));
}

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
          schema: CreateVersionBody,
        },
      },
    },
  },
  responses: {
    201: jsonContent(VersionSchema, "The new version"),
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

export const versionRoutes = createRouter()
  .openapi(createVersionRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "write");
    const body = c.req.valid("json") ?? {};
    const { version, created } = await createVersion(c.env.DB, dataset, body.shard_size ?? 1000, body.description ?? "");
    if (created) await freezeShards(c.env.DB, c.env.SHARDS, version);
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
    await requireFormat(c.env.DB, dataset, version, format);
    const summaries = await shardSummaries(c.env.DB, c.env.SHARDS, version, format);
    const count = shardCount(version);
    return c.json(
      {
        dataset: dataset.name,
        version: version.version,
        format,
        record_count: version.recordCount,
        line_count: summaries.reduce((n, s) => n + s.lines, 0),
        shard_size: version.shardSize,
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
      throw new ProblemError(404, "not-found", `Version ${version.version} has ${count} shard(s); there is no shard ${shard}.`, [
        { field: "path.index", message: "out of range" },
      ]);
    }
    await requireFormat(c.env.DB, dataset, version, format);
    const summary = await shardSummary(c.env.DB, c.env.SHARDS, version, format, shard);
    return serveImmutable(c, {
      etag: `"${summary.sha256}"`,
      size: summary.bytes,
      noun: "the shard",
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": `inline; filename="${shardName(shard, count)}"`,
      },
      stream: (range) =>
        frozenShardBody(
          {
            bucket: c.env.SHARDS,
            waitUntil: (promise) => c.executionCtx.waitUntil(promise),
            writeMissing: () => rewriteShard(c.env.DB, c.env.SHARDS, version, format, shard),
          },
          summary,
          range,
        ),
    });
  })
  .openapi(orderRoute, async (c) => {
    const { name, version: v } = c.req.valid("param");
    const q = c.req.valid("query");
    if (q.rank >= q.world_size) {
      throw new ProblemError(422, "validation", `rank must be below world_size (${q.world_size}).`, [
        { field: "query.rank", message: "must be < world_size" },
      ]);
    }
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const version = await resolveVersion(c, dataset, v);
    if (version.recordCount > MAX_ORDER_SIZE) throw new ProblemError(422, "validation", "Version too large for the order endpoint.");
    const perm = permutation(version.recordCount, q.seed, q.epoch);
    const total = rankLength(version.recordCount, q.rank, q.world_size);
    const indices = rankSlice(perm, q.rank, q.world_size, q.from, q.limit);
    const next = q.from + indices.length;
    return c.json(
      {
        seed: q.seed,
        epoch: q.epoch,
        rank: q.rank,
        world_size: q.world_size,
        record_count: version.recordCount,
        rank_total: total,
        from: q.from,
        indices,
        next: next < total ? next : null,
      },
      200,
    );
  });
