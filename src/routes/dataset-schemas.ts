import { z } from "@hono/zod-openapi";
import type { DatasetRow } from "../datasets/store/access.ts";
import { shardCount, type VersionRow } from "../datasets/store/versions.ts";

/** The shapes the dataset, version and job routes share: a dataset's name, a dataset, a version. */

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

export const DatasetName = z
  .string()
  .regex(NAME_PATTERN, "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100")
  .openapi({ example: "trace-eval" });

/** A job's seed: every random choice it makes derives from it (and the record id). */
export const JobSeed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31)
  .default(0);

/** The visibility of a job's target dataset when the job creates it. */
export const TargetVisibility = z
  .enum(["public", "private"])
  .optional()
  .openapi({ description: "for a new target; default: the source's" });

export const DatasetSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    visibility: z.enum(["public", "private"]),
    record_count: z.number().int(),
    created_at: z.string(),
  })
  .openapi("Dataset");

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

export const presentDataset = (d: DatasetRow) => ({
  name: d.name,
  description: d.description,
  visibility: d.visibility,
  record_count: d.recordCount,
  created_at: d.createdAt,
});
export const presentVersion = (v: VersionRow) => ({
  version: v.version,
  record_count: v.recordCount,
  shard_size: v.shardSize,
  shard_count: shardCount(v),
  description: v.description,
  created_at: v.createdAt,
});

export const nameParam = z.object({ name: DatasetName });
