/**
 * The dataset and judge API's wire shapes as its clients see them: each type is inferred from the
 * zod schema the Worker's route validates or documents with (./api/, `@iopo/common/api`), so the
 * two cannot drift apart. Imported as types only: the client does not load zod.
 */
import type { z } from "@hono/zod-openapi";
import type {
  CreateDatasetBody,
  CreateVersionBody,
  DatasetDetailSchema,
  PagedRecordSchema,
  DatasetSchema,
  DatasetStatisticsSchema,
  FieldErrorSchema,
  IngestResultSchema,
  JobEventSchema,
  JobProgressSchema,
  JobRunSchema,
  JobSchema,
  JudgeResponseSchema,
  LlmResultSchema,
  ManifestSchema,
  ManifestShardSchema,
  ProblemSchema,
  RowsPageSchema,
  SearchPageSchema,
  RuleResultSchema,
  RunJobBody,
  SHARD_FORMATS,
  TaxonomySchema,
  VersionSchema,
  JudgeVerdictSchema,
  ConstraintSchema,
  InstructionSchema,
  RecordSchema,
  VerdictSchema,
} from "./api/index.ts";

/** The API's per-request bounds: the routes (judge.ts, benchmarks.ts) enforce these, clients size their batches by them. */
export const API_LIMITS = { judgeItems: 1000, judgeLlmItems: 100, traceItems: 50, verifiableItems: 10_000, rowsPage: 100 } as const;

export type FieldError = z.infer<typeof FieldErrorSchema>;
export type ProblemBody = z.infer<typeof ProblemSchema>;
export type Dataset = z.infer<typeof DatasetSchema>;
export type DatasetDetail = z.infer<typeof DatasetDetailSchema>;
export type CreateDataset = z.input<typeof CreateDatasetBody>;
export type DatasetVersion = z.infer<typeof VersionSchema>;
export type CreateVersion = z.input<typeof CreateVersionBody>;
export type IngestResult = z.infer<typeof IngestResultSchema>;
export type PagedRecord = z.infer<typeof PagedRecordSchema>;
export type RowsPage = z.infer<typeof RowsPageSchema>;
export type SearchPage = z.infer<typeof SearchPageSchema>;
export type DatasetStatistics = z.infer<typeof DatasetStatisticsSchema>;
export type ShardFormat = (typeof SHARD_FORMATS)[number];
export type ManifestShard = z.infer<typeof ManifestShardSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type JobProgress = z.infer<typeof JobProgressSchema>;
/** A dataset job. */
export type Job = z.infer<typeof JobSchema>;
export type JobEvent = z.infer<typeof JobEventSchema>;
export type RunJob = z.input<typeof RunJobBody>;
export type JobRun = Omit<z.infer<typeof JobRunSchema>, "job"> & { job: Job };
export type RuleResult = z.infer<typeof RuleResultSchema>;
export type LlmResult = z.infer<typeof LlmResultSchema>;
export type JudgeVerdict = z.infer<typeof JudgeVerdictSchema>;
export type JudgeResponse = z.infer<typeof JudgeResponseSchema>;
export type Taxonomy = z.infer<typeof TaxonomySchema>;
/** A dataset record as stored and served (the `records` shard format), and the instruction shape its kinds share. */
export type Constraint = z.infer<typeof ConstraintSchema>;
export type Instruction = z.infer<typeof InstructionSchema>;
export type DatasetRecord = z.infer<typeof RecordSchema>;
/** The judge's verdict as a record keeps it (an sft's, a pair's, a quadruple's four): its results and which judge gave them. */
export type RecordVerdict = z.infer<typeof VerdictSchema>;
export type RecordKind = DatasetRecord["kind"];
