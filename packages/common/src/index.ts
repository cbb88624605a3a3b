/** @iopo/common: one entry for everything the Worker, the CLI, the trainer and the demo share. */
export { closest, editDistance } from "./closest.ts";
export { hex, sha256Hex } from "./hash.ts";
export { MAX_ORDER_SIZE, type Permutation, permutation, rankLength, rankSlice } from "./order.ts";
export { type PromptConstraint, type PromptInstruction, renderPrompt } from "./prompt.ts";
export { Mulberry32, mulberry32, mulberry32Step, seedFromKey } from "./prng.ts";
export { type JudgeModeName, judgementWork } from "./judge-work.ts";
export { LIMITS } from "./limits.ts";
export { type NdjsonLine, ndjsonLine, ndjsonLines } from "./ndjson.ts";
export {
  FORMAT_KINDS,
  type LlamaFactoryIopoLine,
  type PreferencePair,
  type Quadruple,
  RECORD_KINDS,
  type SftExample,
  type ShareGptTurn,
  llamaFactoryIopoLine,
  pairAsExample,
  quadrupleAsExamples,
  quadrupleAsPairs,
  recordIdOfLine,
} from "./formats.ts";
export {
  ADJECTIVES,
  COMMA_TEMPLATES,
  END_PHRASES,
  FORBIDDEN_WORDS,
  HELD_OUT_TOPICS,
  INSTRUCTION_WORDS,
  KEYWORDS,
  PHRASES,
  TEMPLATES,
  TRAIN_TOPICS,
  syntheticCorpusWords,
} from "./synthetic-text.ts";
export { ApiClient, type ApiClientOptions, ApiError, type RequestOptions, datasetPath } from "./api-client.ts";
export type {
  Constraint,
  CreateDataset,
  CreateVersion,
  Dataset,
  DatasetDetail,
  DatasetRecord,
  PagedRecord,
  DatasetStatistics,
  DatasetVersion,
  FieldError,
  IngestResult,
  Instruction,
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
  RecordKind,
  RecordVerdict,
  RowsPage,
  SearchPage,
  RuleResult,
  RunJob,
  ShardFormat,
  Taxonomy,
} from "./api-types.ts";
