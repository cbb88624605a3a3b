import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { records } from "../db/schema.ts";
import { ProblemError } from "../lib/problem.ts";
import { buildQuadrupleLlm, needsLlmPath } from "../pipelines/iopo.ts";
import { buildTraceRecord } from "../pipelines/trace.ts";
import { loadTaxonomyIndex } from "./taxonomy.ts";
import { commonJobParams, type JobKind, type JobParams, type RecordJobKind, type RecordJobParams, type UnitJobKind } from "./job-kind.ts";
import { BUILD_OPS, buildQuadruple, type BuildOp } from "./quadruples.ts";
import type { DatasetRecord } from "./records.ts";
import { findVersion, freezeShards } from "./store/versions.ts";

/** The kinds of dataset job, by the name in `POST /v1/datasets/{name}/jobs/{kind}` and `jobs.kind`. */

/** Other responses to the same task considered as y2 candidates, at most. */
const POOL_LIMIT = 64;

async function taskPool(db: D1Database, datasetId: string, record: DatasetRecord): Promise<string[]> {
  if (record.kind !== "sft") return [];
  const results = await drizzle(db)
    .select({ payload: records.payload })
    .from(records)
    .where(
      and(
        eq(records.datasetId, datasetId),
        eq(records.kind, "sft"),
        eq(sql`json_extract(${records.payload}, '$.instruction.description')`, record.instruction.description),
      ),
    )
    .limit(POOL_LIMIT)
    .all();
  const sameInput = (other: { instruction: { input?: string | null } }) =>
    (other.instruction.input ?? null) === (record.instruction.input ?? null);
  return results
    .map((r) => JSON.parse(r.payload) as { instruction: { input?: string | null }; response: string })
    .filter(sameInput)
    .map((r) => r.response);
}

export interface BuildQuadruplesParams extends RecordJobParams {
  ops: BuildOp[];
  max_candidates: number;
  /** Records with free-text constraints go through the LLM path (src/pipelines/iopo.ts). */
  llm: boolean;
}

const buildQuadruples: RecordJobKind<BuildQuadruplesParams> = {
  params: z
    .object({
      ...commonJobParams,
      ops: z
        .array(z.enum(BUILD_OPS))
        .min(1)
        .default([...BUILD_OPS]),
      batch_size: z.number().int().min(1).max(500).default(50),
      max_candidates: z.number().int().min(1).max(200).default(24),
      llm: z.boolean().default(false).openapi({
        description:
          "records with free-text constraints go through the LLM path (edit, judge, answer, check); verifiable ones keep the rules",
      }),
    })
    .strict(),
  callsModel: (params) => params.llm,
  async prepareStep({ db, jobId, sourceId, params, dimensionNames }) {
    return async ({ id, record }, llm) => {
      if (params.llm && needsLlmPath(record))
        return buildQuadrupleLlm(llm(), id, record, { ops: params.ops, seed: params.seed, jobId, dimensionNames });
      const outcome = buildQuadruple(id, record, await taskPool(db, sourceId, record), {
        ops: params.ops,
        seed: params.seed,
        maxCandidates: params.max_candidates,
      });
      return outcome.ok ? { ok: true, record: outcome.record, tag: outcome.op } : { ok: false, reason: outcome.reason, stage: "rule" };
    };
  },
};

export interface BuildTraceParams extends RecordJobParams {
  min_constraints: number;
  max_constraints: number;
}

const buildTrace: RecordJobKind<BuildTraceParams> = {
  params: z
    .object({
      ...commonJobParams,
      batch_size: z.number().int().min(1).max(50).default(10),
      min_constraints: z.number().int().min(1).max(26).default(2),
      max_constraints: z.number().int().min(1).max(26).default(5),
    })
    .strict()
    .refine((b) => b.min_constraints <= b.max_constraints, { message: "must be at least min_constraints", path: ["max_constraints"] }),
  callsModel: () => true,
  async prepareStep({ db, jobId, params, dimensionNames }) {
    const { dimensions } = await loadTaxonomyIndex(db);
    return ({ id, record }, llm) => buildTraceRecord(llm(), id, record, { ...params, jobId, dimensions, dimensionNames });
  },
};

export interface FreezeVersionParams extends JobParams {
  version: number;
}

/**
 * Writes a version's shards to R2 and their summaries to D1, `batch_size` shards a step (sized by
 * src/datasets/frozen-versions.ts to stay under an invocation's subrequests). Its units are shard
 * indices; its source and target are the version's dataset. Shards are content-addressed and
 * their summaries kept as first written, so a repeated step writes the same bytes.
 */
const freezeVersion: UnitJobKind<FreezeVersionParams> = {
  params: z.object({ version: z.number().int().min(1), batch_size: z.number().int().min(1) }).strict(),
  async runUnits({ db, shards, dataset, params }, from, to) {
    await freezeShards(db, shards, await findVersion(db, dataset, params.version), from, to);
  },
};

/** The kinds a client starts with `POST /v1/datasets/{name}/jobs/{kind}`. */
export const RECORD_JOB_KINDS = { "build-quadruples": buildQuadruples, "build-trace": buildTrace } as const;
export type RecordJobKindName = keyof typeof RECORD_JOB_KINDS;

/** Every kind, by `jobs.kind`: freezing starts at `POST /v1/datasets/{name}/versions`. */
export const JOB_KINDS = { ...RECORD_JOB_KINDS, "freeze-version": freezeVersion } as const;
export type JobKindName = keyof typeof JOB_KINDS;

/** Whether a stored job calls the model (its kind's `callsModel` on its stored, validated parameters). */
export function callsModel(job: { kind: string; params: string }): boolean {
  const kind = (JOB_KINDS as Record<string, JobKind | undefined>)[job.kind];
  return kind !== undefined && "callsModel" in kind && kind.callsModel(JSON.parse(job.params));
}

/** A stored job's kind; a name no kind has (a row from a newer version) is a clear error. */
export function jobKind(name: string): JobKind {
  const kind = (JOB_KINDS as Record<string, JobKind | undefined>)[name];
  if (!kind) throw new ProblemError(422, "validation", `No job kind "${name}" (known: ${Object.keys(JOB_KINDS).join(", ")}).`);
  return kind;
}
