/** @iopo/common: one entry for everything the Worker, the CLI, the trainer and the demo share. */
export { closest, editDistance } from "./closest.ts";
export { hex, sha256Hex } from "./hash.ts";
export { MAX_ORDER_SIZE, type Permutation, permutation, rankLength, rankSlice } from "./order.ts";
export { type PromptConstraint, type PromptInstruction, renderPrompt } from "./prompt.ts";
export { Mulberry32, mulberry32, mulberry32Step } from "./prng.ts";
export { type JudgeModeName, judgementWork } from "./judge-work.ts";
export { LIMITS } from "./limits.ts";
export { type NdjsonLine, ndjsonLine, ndjsonLines } from "./ndjson.ts";
export { ApiClient, type ApiClientOptions, ApiError, type RequestOptions, datasetPath } from "./api-client.ts";
export type {
  CreateDataset,
  CreateVersion,
  Dataset,
  DatasetDetail,
  DatasetRow,
  DatasetStatistics,
  DatasetVersion,
  FieldError,
  IngestResult,
  Job,
  JobEvent,
  JobProgress,
  JobRun,
  JudgeResponse,
  JudgeVerdict,
  LlmResult,
  Manifest,
  ManifestShard,
  ProblemBody,
  RowsPage,
  SearchPage,
  RuleResult,
  RunJob,
  ShardFormat,
  Taxonomy,
} from "./api-types.ts";
