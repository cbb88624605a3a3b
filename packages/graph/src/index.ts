/**
 * @iopo/graph: graphs built and differentiated in TypeScript, emitted as ONNX, trained on
 * onnxruntime-web (WebGPU or wasm) or onnxruntime-node with AdamW on the device. Its one public entry.
 */
export { type DType, type HostArray, allocHost, f16ToF32, f32ToF16, toHost } from "./graph/dtype.ts";
export { type Dim, type Shape, ShapeError, broadcastShapes, fmtShape } from "./graph/shape.ts";
export {
  Graph,
  GraphError,
  MAX_KERNEL_OPERANDS,
  Node,
  Tensor,
  type CustomGradRule,
  type GraphOptions,
  type ParamOptions,
  init,
  liveNodes,
} from "./graph/graph.ts";
export { type GradRule, grad, unbroadcast } from "./graph/autodiff.ts";
export { OPS, type OpDef, type OpName } from "./graph/ops/index.ts";
export { optimize, type OptimizeOptions, type OptimizeResult } from "./graph/simplify.ts";
export {
  PROTOBUF_LIMIT_BYTES,
  toOnnx,
  type EmitOptions,
  type EmittedModel,
  type ExternalData,
  type ExternalDataOptions,
  type IoInfo,
  type Opset,
} from "./graph/onnx.ts";
export { compile, type CompileOptions, type CompiledModel } from "./graph/compile.ts";
export { evaluate, evalNode, type EvalOptions, type Precision, type Value } from "./graph/interpreter.ts";
export { gradCheck, type GradCheckResult } from "./graph/gradcheck.ts";
export { countFlops, type FlopCount, largestIntermediate } from "./graph/flops.ts";
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
// the one --device list and its engines
export {
  AUTO_ORDER,
  type AutoDevice,
  DEVICE_INFO,
  DEVICES,
  type Device,
  GPU_STEP_MS,
  type GpuDevice,
  rankGpuDevices,
  type StepTimes,
  TRAINING_DEVICES,
  type TrainingDevice,
  createEngine,
  isDevice,
  pickAutoDevice,
} from "./engine/devices.ts";
export type { ProfileEvent } from "./engine/types.ts";
export { type ProfileRow, type ProfileSummary, formatProfile, parseOrtProfile, summarizeProfile } from "./engine/profile.ts";
