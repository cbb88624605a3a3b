import { z } from "@hono/zod-openapi";
import { DatasetName } from "@iopo/common/api";
import type { DatasetRow } from "../datasets/store/access.ts";
import { versionState } from "../datasets/frozen-versions.ts";
import { type FreezingVersion, shardCount } from "../datasets/store/versions.ts";

/**
 * What the dataset, version and job routes share beyond the wire schemas (@iopo/common/api): the
 * name path parameter, the job seed, a job target's visibility, and rows presented as the API's
 * Dataset and DatasetVersion.
 */

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

export const presentDataset = (d: DatasetRow) => ({
  name: d.name,
  description: d.description,
  visibility: d.visibility,
  record_count: d.recordCount,
  created_at: d.createdAt,
});
export const presentVersion = (v: FreezingVersion) => ({
  version: v.version,
  record_count: v.recordCount,
  shard_size: v.shardSize,
  shard_count: shardCount(v),
  description: v.description,
  state: versionState(v),
  freeze_job: v.freezeJobId,
  created_at: v.createdAt,
});

export const nameParam = z.object({ name: DatasetName });
