import type { DType, HostArray } from "../graph/dtype.ts";
import type { EmittedModel } from "../graph/onnx.ts";

/** A tensor in host memory. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostArray;
}

/**
 * A tensor that lives with the engine between runs: a GPU buffer (WebGPU), a wasm/CPU tensor
 * (wasm, onnxruntime-node) or a handle into a browser page. Opaque outside the engine.
 */
export interface DeviceTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: "gpu" | "cpu" | "page";
  /** Engine-private handle. */
  readonly handle: unknown;
}

/** Where an output goes: back to the host, kept on the device, or into a pre-allocated tensor. */
export type OutputSpec = "host" | "device" | DeviceTensor;

export interface SessionOptions {
  /** Outputs that will be kept on the device (WebGPU: preferredOutputLocation 'gpu-buffer'). */
  deviceOutputs?: readonly string[];
  /** A label for logs. */
  name?: string;
  /** Record ORT's per-node profile (read it with `EngineSession.endProfiling`). */
  profile?: boolean;
}

/**
 * One timed event of a profiled session: a kernel's run on the device (`gpu`: WebGPU timestamp
 * queries) or a node's run as the host sees it (`host`: the CPU EPs' compute time; on WebGPU only
 * the dispatch cost). `run` counts the session's runs from 0.
 */
export interface ProfileEvent {
  node: string;
  op: string;
  us: number;
  clock: "gpu" | "host";
  run: number;
}

export interface RunResult {
  host: Record<string, HostTensor>;
  device: Record<string, DeviceTensor>;
}

export interface EngineSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Run: feeds may mix host and device tensors; only the requested outputs are computed. */
  run(feeds: Record<string, HostTensor | DeviceTensor>, outputs: Record<string, OutputSpec>): Promise<RunResult>;
  /** Stop profiling (the session was created with `profile: true`) and return its events. */
  endProfiling?(): Promise<ProfileEvent[]>;
  /**
   * Dispose the device tensors this session's runs returned first: onnxruntime-node's WebGPU EP
   * frees their memory with the session, and disposing one afterwards crashes the process.
   */
  release(): Promise<void>;
}

export type EngineKind = "wasm" | "webgpu-node" | "webgpu-browser" | "wasm-browser" | "node-cpu" | "node-webgpu" | "reference";

export interface Engine {
  readonly kind: EngineKind;
  /** Human-readable: EP, threads, adapter (SwiftShader is labelled as software). */
  readonly description: string;
  /** True for software WebGPU adapters (correctness only, not performance). */
  readonly software: boolean;
  /** Whether run() writes into pre-allocated device tensors (OutputSpec = DeviceTensor). */
  readonly preallocatedOutputs: boolean;
  /**
   * False where float16 tensors cannot run (a WebGPU adapter without shader-f16, as SwiftShader):
   * callers then widen fp16 data to fp32. Undefined or true: they can.
   */
  readonly float16?: boolean;
  /**
   * Bytes moved between host memory and the engine's memory since it was made (host feeds, host
   * outputs, uploads, downloads): a bench's `hostBytesPerStep` is its difference over a step.
   * Undefined where it is not counted.
   */
  readonly hostBytes?: number;
  /** Create a session from an emitted model (ORT engines use its bytes, the reference engine its graph). */
  createSession(model: EmittedModel, opts?: SessionOptions): Promise<EngineSession>;
  upload(t: HostTensor): Promise<DeviceTensor>;
  /** Allocate an uninitialised device tensor (for pre-allocated outputs). */
  alloc(dtype: DType, shape: readonly number[]): Promise<DeviceTensor>;
  download(t: DeviceTensor): Promise<HostTensor>;
  dispose(t: DeviceTensor): void;
  close(): Promise<void>;
}

export class EngineUnavailable extends Error {
  override name = "EngineUnavailable";
}

export function isDeviceTensor(x: unknown): x is DeviceTensor {
  return typeof x === "object" && x !== null && "handle" in x && "location" in x;
}
