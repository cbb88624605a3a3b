/** @iopo/common: one entry for everything the Worker, the CLI, the trainer and the demo share. */
export { closest, editDistance } from "./closest.ts";
export { hex, sha256Hex } from "./hash.ts";
export { MAX_ORDER_SIZE, type Permutation, permutation, rankLength, rankSlice } from "./order.ts";
export { type PromptConstraint, type PromptInstruction, renderPrompt } from "./prompt.ts";
export { Mulberry32, mulberry32, mulberry32Step, seedFromKey } from "./prng.ts";
export { type JudgeModeName, WORK_LIMITS, judgementWork } from "./judge-work.ts";
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
export {
  API_LIMITS,
  type Constraint,
  type CreateDataset,
  type CreateVersion,
  type Dataset,
  type DatasetDetail,
  type DatasetRecord,
  type PagedRecord,
  type DatasetStatistics,
  type DatasetVersion,
  type FieldError,
  type IngestResult,
  type Instruction,
  type Job,
  type JobEvent,
  type JobProgress,
  type JobRun,
  type JudgeResponse,
  type JudgeVerdict,
  type LlmResult,
  type Manifest,
  type ManifestShard,
  type ProblemBody,
  type RecordKind,
  type RecordVerdict,
  type RowsPage,
  type SearchPage,
  type RuleResult,
  type RunJob,
  type ShardFormat,
  type Taxonomy,
} from "./api-types.ts";
