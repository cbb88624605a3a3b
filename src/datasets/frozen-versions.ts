import { MAX_ORDER_SIZE, permutation, rankLength, rankSlice, type ShardFormat } from "@iopo/common";
import { SHARD_FORMATS } from "@iopo/common/api";
import type { Bindings } from "../env.ts";
import type { Principal } from "../lib/principal.ts";
import { ProblemError } from "../lib/problem.ts";
import { jobContext } from "./job-context.ts";
import { enqueueJob } from "./job-queue.ts";
import type { FreezeVersionParams } from "./job-registry.ts";
import { createJob, jobById, runJobSteps } from "./jobs.ts";
import type { DatasetRow } from "./store/access.ts";
import { READ_PAGE } from "./store/rows.ts";
import { frozenShardBody } from "./store/shards.ts";
import {
  createVersion,
  findVersion,
  isFrozen,
  listVersions,
  requireFormat,
  rewriteShard,
  shardCount,
  shardName,
  shardSummaries,
  shardSummary,
  type FreezingVersion,
} from "./store/versions.ts";

/**
 * Freezing versions and reading frozen ones. A version's shards are written by a `freeze-version`
 * job (job-registry.ts), a bounded number of shards per step: freezing 120,000 records in one
 * invocation would pass Cloudflare's 1,000 subrequests. A freeze that fits one step runs it within
 * its request (201, frozen, as it always did); a larger one is enqueued (202, the version
 * `freezing` with its job named) and is readable once its job is done: until then its manifest,
 * shards and order are a 409, never partial data.
 */

/**
 * D1 and R2 calls one freeze step makes at most (FREEZE_STEP_CALLS): half an invocation's 1,000
 * subrequests on Workers Paid, the rest left to the request or the runner around the step.
 */
const DEFAULT_FREEZE_STEP_CALLS = 500;

/** Calls freezing one shard makes at most: its record pages, an R2 look-up and write per format, its summaries. */
const callsPerShard = (shardSize: number) => Math.ceil(shardSize / READ_PAGE) + 2 * SHARD_FORMATS.length + 1;

/** Shards one freeze step writes. */
export function shardsPerStep(env: Pick<Bindings, "FREEZE_STEP_CALLS">, shardSize: number): number {
  const configured = Number(env.FREEZE_STEP_CALLS ?? DEFAULT_FREEZE_STEP_CALLS);
  const calls = Number.isInteger(configured) && configured >= 1 ? configured : DEFAULT_FREEZE_STEP_CALLS;
  return Math.max(1, Math.floor(calls / callsPerShard(shardSize)));
}

/**
 * Freezes the dataset's records into a new version as `principal` (the freeze job's owner): 201
 * frozen within the request, 202 freezing on the queue, or 200 with the latest version when it
 * already holds exactly these records with this shard size.
 */
export async function freezeVersion(
  env: Bindings,
  dataset: DatasetRow,
  principal: Principal,
  body: { shardSize: number; description: string },
): Promise<{ version: FreezingVersion; status: 200 | 201 | 202 }> {
  const jobId = crypto.randomUUID();
  const { version, created } = await createVersion(env.DB, dataset, { ...body, freezeJobId: jobId });
  if (!created) return { version, status: 200 };
  const params: FreezeVersionParams = { version: version.version, batch_size: shardsPerStep(env, version.shardSize) };
  const job = await createJob(env.DB, {
    id: jobId,
    source: dataset,
    target: dataset,
    kind: "freeze-version",
    params,
    total: shardCount(version),
    principal,
  });
  if (job.total <= params.batch_size) await runJobSteps(env.DB, job.id, await jobContext(env), { maxBatches: 1, budgetMs: 20_000 });
  const now = await findVersion(env.DB, dataset, version.version);
  if (isFrozen(now)) return { version: now, status: 201 };
  await enqueueJob(env, job);
  return { version: now, status: 202 };
}

/** A frozen version's wire state: `freezing` until its job is done, `cancelled` when that job was. */
export const versionState = (v: FreezingVersion): "frozen" | "freezing" | "cancelled" =>
  isFrozen(v) ? "frozen" : v.freezeStatus === "cancelled" ? "cancelled" : "freezing";

/** The version a path names: a number, or `latest` (the newest frozen one). */
export const namedVersion = (db: D1Database, dataset: DatasetRow, name: string): Promise<FreezingVersion> =>
  name === "latest" ? latestVersion(db, dataset) : findVersion(db, dataset, Number(name));

/**
 * The version a path names, which must be frozen to read its shards: 409 while they are being
 * written (saying how far its job is) or when its freeze was cancelled.
 */
export async function frozenVersion(db: D1Database, dataset: DatasetRow, name: string): Promise<FreezingVersion> {
  const version = await namedVersion(db, dataset, name);
  if (isFrozen(version)) return version;
  const job = version.freezeJobId === null ? null : await jobById(db, version.freezeJobId);
  const why =
    job === null
      ? "its freeze job is gone; freeze again"
      : job.status === "cancelled"
        ? `its freeze (job ${job.id}) was cancelled; freeze again`
        : `its freeze job ${job.id} is ${job.status} with ${job.cursor} of ${job.total} shards written; ` +
          (job.status === "paused" || job.status === "failed" ? "resume the job to go on" : "ask again when it is done");
  throw new ProblemError(409, "conflict", `Version ${version.version} of "${dataset.name}" is not frozen: ${why}.`, [
    { field: "path.version", message: "not frozen yet" },
  ]);
}

/** The newest frozen version (or the newest of all, when none is frozen yet: reading it says why not). */
async function latestVersion(db: D1Database, dataset: DatasetRow): Promise<FreezingVersion> {
  const all = await listVersions(db, dataset);
  const latest = all.findLast(isFrozen) ?? all.at(-1);
  if (!latest)
    throw new ProblemError(404, "not-found", `Dataset "${dataset.name}" has no versions yet.`, [
      { field: "path.version", message: "no versions" },
    ]);
  return latest;
}

/** A frozen version's manifest in `format`: each shard's counts, size, SHA-256 and path. */
export async function versionManifest(env: Bindings, dataset: DatasetRow, version: FreezingVersion, format: ShardFormat) {
  await requireFormat(env.DB, dataset, version, format);
  const summaries = await shardSummaries(env.DB, env.SHARDS, version, format);
  const count = shardCount(version);
  return {
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
  };
}

/** One frozen shard: its summary (ETag, size, file name) and its body, or a byte range of it, from R2. */
export async function frozenShard(
  env: Bindings,
  waitUntil: (promise: Promise<unknown>) => void,
  dataset: DatasetRow,
  version: FreezingVersion,
  format: ShardFormat,
  shard: number,
) {
  const count = shardCount(version);
  if (shard >= count) {
    throw new ProblemError(404, "not-found", `Version ${version.version} has ${count} shard(s); there is no shard ${shard}.`, [
      { field: "path.index", message: "out of range" },
    ]);
  }
  await requireFormat(env.DB, dataset, version, format);
  const summary = await shardSummary(env.DB, env.SHARDS, version, format, shard);
  const source = { bucket: env.SHARDS, waitUntil, writeMissing: () => rewriteShard(env.DB, env.SHARDS, version, format, shard) };
  return {
    summary,
    name: shardName(shard, count),
    body: (range?: { start: number; end: number }) => frozenShardBody(source, summary, range),
  };
}

/** Where rank `rank` of `world_size` reads in an epoch: its record indices from its own sample index `from`. */
export function sampleOrder(
  version: FreezingVersion,
  q: { seed: number; epoch: number; rank: number; world_size: number; from: number; limit: number },
) {
  if (q.rank >= q.world_size) {
    throw new ProblemError(422, "validation", `rank must be below world_size (${q.world_size}).`, [
      { field: "query.rank", message: "must be < world_size" },
    ]);
  }
  if (version.recordCount > MAX_ORDER_SIZE) throw new ProblemError(422, "validation", "Version too large for the order endpoint.");
  const perm = permutation(version.recordCount, q.seed, q.epoch);
  const total = rankLength(version.recordCount, q.rank, q.world_size);
  const indices = rankSlice(perm, q.rank, q.world_size, q.from, q.limit);
  const next = q.from + indices.length;
  return {
    seed: q.seed,
    epoch: q.epoch,
    rank: q.rank,
    world_size: q.world_size,
    record_count: version.recordCount,
    rank_total: total,
    from: q.from,
    indices,
    next: next < total ? next : null,
  };
}
