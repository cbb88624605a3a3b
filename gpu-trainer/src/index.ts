/**
 * @iopo/gpu-trainer: the IOPO trainer (models, tokenizer, data, losses, the training loop, generation
 * and evaluation) on @iopo/graph, whose API it re-exports: graphs built and differentiated in
 * TypeScript, emitted as ONNX, trained on onnxruntime-web (WebGPU or wasm) or onnxruntime-node with
 * AdamW on the device.
 */
export {
  type DType,
  type HostArray,
  type Dim,
  type Shape,
  ShapeError,
  broadcastShapes,
  fmtShape,
  Graph,
  GraphError,
  MAX_KERNEL_OPERANDS,
  Node,
  Tensor,
  type GraphOptions,
  type ParamOptions,
  init,
  liveNodes,
  OPS,
  type OpDef,
  type OpName,
  type GradRule,
  grad,
  unbroadcast,
  optimize,
  type OptimizeOptions,
  type OptimizeResult,
  toOnnx,
  type EmitOptions,
  type EmittedModel,
  type IoInfo,
  type Opset,
  compile,
  type CompileOptions,
  type CompiledModel,
  evaluate,
  evalNode,
  type EvalOptions,
  type Precision,
  type Value,
  gradCheck,
  type GradCheckResult,
  countFlops,
  type FlopCount,
  nn,
  ADAMW_DEFAULTS,
  type AdamWConfig,
  type ScheduleConfig,
  adamwUpdate,
  adamwFlatUpdate,
  adamwHyperInputs,
  clipCoef,
  flatten,
  globalNorm,
  planBuckets,
  adamwHyperValues,
  clipByGlobalNorm,
  scheduleMultiplier,
  type DeviceTensor,
  type Engine,
  type EngineKind,
  type EngineSession,
  type HostTensor,
  type OutputSpec,
  type RunResult,
  type SessionOptions,
  EngineUnavailable,
  OrtEngine,
  createNodeCpuEngine,
  createNodeWebGpuEngine,
  createWasmEngine,
  createWebGpuNodeEngine,
  BrowserEngine,
  type BrowserEngineOptions,
  ReferenceEngine,
  installNodeWebGPU,
  SWIFTSHADER_ICD,
  type Batch,
  type ModelFn,
  type ModelOutputs,
  type StepMetrics,
  Trainer,
  type TrainerConfig,
  tensor,
  toyModels,
} from "@iopo/graph";

// ---- the IOPO trainer (models, data, losses, the training loop) ----
export {
  type DecoderConfig,
  type RopeScaling,
  UnsupportedModelError,
  countParams,
  parseHfConfig,
  ropeTables,
  toHfConfig,
} from "./model/config.ts";
export {
  LINEAR_MODULES,
  type DecoderInputs,
  type DecoderParams,
  type LinearModule,
  type LoraConfig,
  type ModelWeights,
  type VocabPart,
  DEFAULT_VOCAB_CHUNK,
  chunkedLabelLogProbs,
  declareParams,
  decoderHidden,
  decoderHiddenCached,
  type KvCacheInputs,
  type LayerKv,
  decoderLabelLogProbs,
  decoderLogits,
  sequenceLogProbs,
} from "./model/decoder.ts";
export { type Model, TINY_MODELS, createTinyModel, loadModel, randomWeights, tinyTokenizer } from "./model/index.ts";
export { SafetensorsError, SafetensorsFile, openCheckpointWeights, writeCheckpointWeights, writeSafetensors } from "./model/safetensors.ts";
export { loadLoraAdapter, mergeLora, saveHfModel, saveLoraAdapter } from "./model/weights.ts";
export { type ChatMessage, ChatTokenizer, TokenizerError } from "./tokenizer/index.ts";
export { type Dataset, fetchApiDataset, openDataset, parseApiUrl, readLocalDataset } from "./data/dataset.ts";
export { type Cursor, type Example, ExampleOrder } from "./data/order.ts";
export { DataError, type Sample, expandForMethod, parseSample } from "./data/samples.ts";
export { BLOCKS, METHODS, type Method, buildLoss, logSigmoid } from "./train/losses.ts";
export { collate, encodeExample, inferSeqlen } from "./train/batch.ts";
export { LogprobRunner, trainingModel } from "./train/graphs.ts";
// Device: the devices a run can train on; createEngineFor and isGenerationDevice take every device
export {
  DEVICE_INFO,
  type TrainingDevice as Device,
  createEngine,
  createEngine as createEngineFor,
  isDevice as isGenerationDevice,
} from "@iopo/graph";
export { CheckpointError, type TrainerStateFile, listCheckpoints, loadCheckpoint, saveCheckpoint } from "./train/checkpoint.ts";
export { type LogprobOptions, type LogprobRecord, computeLogprobs } from "./train/logprobs.ts";
export { type ExportOptions, ONNX_EXTERNAL_DATA, exportCheckpoint, inferenceOnnx, openCheckpoint, writeOnnx } from "./train/export.ts";
export { type MetricsRow, evalMetric, plotSvg, readMetrics, withCurrentMetricNames } from "./train/report.ts";
export {
  ConfigError,
  DEFAULTS,
  type TrainOptions,
  type TrainResult,
  type TrainSummary,
  TrainingError,
  resolveOptions,
  train,
} from "./train/train.ts";
export {
  type Generation,
  type GenerateOptions,
  Generator,
  type GenerationModel,
  buildDecodeGraph,
  encodeChat,
  generateTexts,
  loadGenerationModel,
  sampleToken,
  stopTokensFor,
} from "./generate/index.ts";
export {
  type Accuracy,
  type Benchmark,
  type EvalMetrics,
  type EvalOptions as ModelEvalOptions,
  type EvalResult,
  evaluate as evaluateModel,
  loadBenchmark,
  renderPrompt,
  scoreBenchmark,
} from "./eval/index.ts";
