/**
 * @iopo/gpu-trainer: graphs built and differentiated in TypeScript, emitted as ONNX, trained on
 * onnxruntime-web (WebGPU or wasm) or onnxruntime-node with AdamW on the device.
 */
export type { DType, HostArray } from "./graph/dtype.ts";
export { type Dim, type Shape, ShapeError, broadcastShapes, fmtShape } from "./graph/shape.ts";
export {
  Graph,
  GraphError,
  MAX_KERNEL_OPERANDS,
  Node,
  Tensor,
  type GraphOptions,
  type ParamOptions,
  init,
  liveNodes,
} from "./graph/graph.ts";
export { GRAD_RULES, type GradRule, grad, unbroadcast } from "./graph/autodiff.ts";
export { optimize, type OptimizeOptions, type OptimizeResult } from "./graph/simplify.ts";
export { toOnnx, type EmitOptions, type EmittedModel, type IoInfo, type Opset } from "./graph/onnx.ts";
export { compile, type CompileOptions, type CompiledModel } from "./graph/compile.ts";
export { evaluate, evalNode, type EvalOptions, type Precision, type Value } from "./graph/interpreter.ts";
export { gradCheck, type GradCheckResult } from "./graph/gradcheck.ts";
export { countFlops, type FlopCount } from "./graph/flops.ts";
export * as nn from "./graph/nn.ts";

export {
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
} from "./optim/adamw.ts";

export type {
  DeviceTensor,
  Engine,
  EngineKind,
  EngineSession,
  HostTensor,
  OutputSpec,
  RunResult,
  SessionOptions,
} from "./engine/types.ts";
export { EngineUnavailable } from "./engine/types.ts";
export { OrtEngine, createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine } from "./engine/ort.ts";
export { BrowserEngine, type BrowserEngineOptions } from "./engine/browser.ts";
export { ReferenceEngine } from "./engine/reference.ts";
export { installNodeWebGPU, SWIFTSHADER_ICD } from "./engine/webgpu-node.ts";

export { type Batch, type ModelFn, type ModelOutputs, type StepMetrics, Trainer, type TrainerConfig, tensor } from "./trainer.ts";
export * as toyModels from "./toy-models.ts";

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
  declareParams,
  decoderHidden,
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
} from "./engine/devices.ts";
export { CheckpointError, type TrainerStateFile, listCheckpoints, loadCheckpoint, saveCheckpoint } from "./train/checkpoint.ts";
export { type LogprobOptions, type LogprobRecord, computeLogprobs } from "./train/logprobs.ts";
export { type ExportOptions, exportCheckpoint, inferenceOnnx, openCheckpoint } from "./train/export.ts";
export { type MetricsRow, plotSvg } from "./train/report.ts";
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
