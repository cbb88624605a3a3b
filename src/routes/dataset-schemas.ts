import { z } from "@hono/zod-openapi";
import { DatasetName } from "@iopo/common/api";
import type { DatasetRow } from "../datasets/store/access.ts";
import { versionState } from "../datasets/frozen-versions.ts";
import { type FreezingVersion, shardCount } from "../datasets/store/versions.ts";

/**
 * What the dataset, version and job routes share beyond the wire schemas (@iopo/common/api): the
 * name path parameter, and rows presented as the API's Dataset and DatasetVersion.
 */

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
