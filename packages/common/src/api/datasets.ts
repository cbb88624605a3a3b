import { z } from "@hono/zod-openapi";

/** Datasets, their records and their frozen versions on the wire. */

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

export const DatasetName = z
  .string()
  .regex(NAME_PATTERN, "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100")
  .openapi({ example: "trace-eval" });

export const DatasetSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    visibility: z.enum(["public", "private"]),
    record_count: z.number().int(),
    created_at: z.string(),
  })
  .openapi("Dataset");

/** POST /v1/datasets */
export const CreateDatasetBody = z
  .object({
    name: DatasetName,
    description: z.string().max(5000).default(""),
    visibility: z.enum(["public", "private"]).default("public"),
  })
  .strict();

export const VersionSchema = z
  .object({
    version: z.number().int(),
    record_count: z.number().int(),
    shard_size: z.number().int(),
    shard_count: z.number().int(),
    description: z.string(),
    created_at: z.string(),
  })
  .openapi("DatasetVersion");

const LengthHistogramSchema = z
  .object({
    min: z.number().int(),
    max: z.number().int(),
    bins: z.array(z.object({ from: z.number().int(), to: z.number().int(), count: z.number().int() })).openapi({
      description: "up to 10 equal-width bins from min to max; `from` and `to` inclusive, in characters",
    }),
  })
  .openapi("LengthHistogram");

/** A dataset's (or a frozen version's) statistics. */
export const StatisticsSchema = z
  .object({
    by_kind: z.record(z.string(), z.number()),
    constraints_histogram: z.record(z.string(), z.number()).openapi({ description: "constraints per (first) instruction → records" }),
    constraints_by_type: z.record(z.string(), z.number()),
    constraints_by_dimension: z.record(z.string(), z.number()),
    instruction_chars: LengthHistogramSchema.openapi({ description: "characters of each record's rendered (first) prompt" }),
    response_chars: LengthHistogramSchema.openapi({
      description: "characters of each record's (first) response: sft's response, dpo's chosen, iopo's y1; 0 for instructions",
    }),
  })
  .openapi("Statistics");

/** GET /v1/datasets/{name}: the dataset with its statistics and versions. */
export const DatasetDetailSchema = DatasetSchema.extend({
  statistics: StatisticsSchema,
  versions: z.array(VersionSchema),
});

/** GET /v1/datasets/{name}/statistics and .../versions/{version}/statistics */
export const DatasetStatisticsSchema = z
  .object({ dataset: z.string(), version: z.number().int().nullable(), record_count: z.number().int(), statistics: StatisticsSchema })
  .openapi("DatasetStatistics");

/** POST /v1/datasets/{name}/records */
export const IngestResultSchema = z
  .object({ received: z.number().int(), inserted: z.number().int(), duplicates: z.number().int(), record_count: z.number().int() })
  .openapi("IngestResult");

/** One stored record as GET /v1/datasets/{name}/rows pages them. */
export const PagedRecordSchema = z.object({ row_idx: z.number().int(), id: z.string(), row: z.record(z.string(), z.unknown()) });

/** GET /v1/datasets/{name}/rows */
export const RowsPageSchema = z.object({
  rows: z.array(PagedRecordSchema),
  num_rows_total: z.number().int(),
  next_after: z.number().int().nullable(),
});

/** GET /v1/datasets/{name}/search */
export const SearchPageSchema = z
  .object({
    query: z.string(),
    rows: z.array(PagedRecordSchema),
    num_rows_total: z.number().int(),
    matched_by: z.enum(["index", "scan"]).openapi({
      description: "index: the trigram full-text index, ranked by bm25; scan: a term under 3 characters, in position order",
    }),
  })
  .openapi("SearchPage");

/** POST /v1/datasets/{name}/versions */
export const CreateVersionBody = z
  .object({
    shard_size: z.number().int().min(1).max(100_000).default(1000),
    description: z.string().max(5000).default(""),
  })
  .strict();

/** The line formats a version's shards are served in. */
export const SHARD_FORMATS = ["records", "iopo", "dpo", "sft", "llamafactory"] as const;

export const ManifestShardSchema = z.object({
  index: z.number().int(),
  name: z.string(),
  records: z.number().int(),
  lines: z.number().int(),
  bytes: z.number().int(),
  sha256: z.string(),
  /** The shard's path on the API. */
  url: z.string(),
});

/** GET /v1/datasets/{name}/versions/{version}/manifest */
export const ManifestSchema = z
  .object({
    dataset: z.string(),
    version: z.number().int(),
    format: z.enum(SHARD_FORMATS),
    record_count: z.number().int(),
    line_count: z.number().int(),
    shard_size: z.number().int(),
    shard_count: z.number().int(),
    shards: z.array(ManifestShardSchema),
  })
  .openapi("Manifest");
