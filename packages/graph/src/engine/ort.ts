/**
 * One engine over every ORT flavour that speaks the onnxruntime-common API in this process:
 * onnxruntime-web wasm, onnxruntime-web WebGPU (Node + Dawn), onnxruntime-node CPU and its native
 * WebGPU EP. On both WebGPU flavours tensors kept "on the device" are GPU buffers that stay there
 * between runs; only host feeds and host outputs cross (counted in `hostBytes`).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-common";
import { type DType, type HostArray, allocHost } from "../graph/dtype.ts";
import { Graph } from "../graph/graph.ts";
import { type EmittedModel, toOnnx } from "../graph/onnx.ts";
import {
  type DeviceTensor,
  type Engine,
  type EngineKind,
  type EngineSession,
  EngineUnavailable,
  type HostTensor,
  type OutputSpec,
  type ProfileEvent,
  type RunResult,
  type SessionOptions,
  isDeviceTensor,
} from "./types.ts";
import { parseOrtProfile } from "./profile.ts";
import { installNodeWebGPU, keepAlive } from "./webgpu-node.ts";

/** The parts of an ORT module we use (onnxruntime-web and onnxruntime-node both provide them). */
export interface OrtModule {
  /** From the model's bytes, or a model file's path (onnxruntime-node, or web builds in Node). */
  InferenceSession: { create(model: Uint8Array | string, opts?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: typeof OrtTensor;
  env: {
    wasm?: { numThreads?: number; simd?: boolean; proxy?: boolean };
    webgpu?: { device?: unknown; powerPreference?: string };
    logLevel?: string;
  };
}

type GpuDevice = {
  features: { has(name: string): boolean };
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createCommandEncoder(): { copyBufferToBuffer(a: GpuBuffer, ao: number, b: GpuBuffer, bo: number, n: number): void; finish(): unknown };
  queue: {
    writeBuffer(b: GpuBuffer, off: number, data: ArrayBufferView): void;
    submit(c: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
};
type GpuBuffer = { size: number; destroy(): void; mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void };

const ORT_TYPE: Record<DType, string> = {
  float32: "float32",
  float16: "float16",
  float64: "float64",
  int32: "int32",
  int64: "int64",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};
const FROM_ORT: Record<string, DType> = Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, k as DType]));

const BYTES: Record<DType, number> = { float32: 4, float16: 2, float64: 8, int32: 4, int64: 8, int8: 1, uint8: 1, bool: 1 };

// WebGPU usage flags (spec constants; Dawn's globals carry the same values)
const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, STORAGE: 128 };
const MAP_READ_MODE = 1;

interface Handle {
  t: OrtTensor;
}

function wrap(t: OrtTensor, location: "gpu" | "cpu"): DeviceTensor {
  return { dtype: FROM_ORT[t.type], shape: [...t.dims], location, handle: { t } satisfies Handle };
}

export interface OrtEngineOptions {
  kind: EngineKind;
  description: string;
  software?: boolean;
  /** Session options merged into every session. */
  sessionOptions?: InferenceSession.SessionOptions;
}

export class OrtEngine implements Engine {
  readonly kind: EngineKind;
  readonly description: string;
  readonly software: boolean;
  /** See Engine.float16: the CPU EPs have fp16 kernels; the WebGPU ones are probed (probeFloat16). */
  float16 = true;
  private device?: GpuDevice;
  private live = new Set<OrtTensor>();
  private moved = 0;
  /** onnxruntime-node WebGPU: Identity sessions that move tensors on and off the GPU, by direction, dtype and rank. */
  private copySessions = new Map<string, Promise<InferenceSession>>();

  constructor(
    readonly ort: OrtModule,
    private opts: OrtEngineOptions,
  ) {
    this.kind = opts.kind;
    this.description = opts.description;
    this.software = opts.software ?? false;
  }

  /** onnxruntime-web's WebGPU EP: we hold its GPUDevice and make, fill and read buffers ourselves. */
  private get gpu(): boolean {
    return this.kind === "webgpu-node";
  }

  /**
   * Outputs can stay on the GPU between runs (`preferredOutputLocation` per output). On
   * onnxruntime-node's WebGPU EP there is no GPUDevice to reach: tensors go on and off the GPU
   * through copy sessions, never `getData()` on a GPU tensor (that aborts the process).
   */
  get deviceResident(): boolean {
    return this.gpu || this.kind === "node-webgpu";
  }

  /**
   * Bytes moved between host memory and the engine's since it was made: host feeds, host
   * outputs, uploads and downloads. On the CPU engines every tensor fed or fetched counts, state
   * included (it lives in host memory and is copied in and out of the engine's buffers each run).
   */
  get hostBytes(): number {
    return this.moved;
  }

  /** ORT tensors this engine made or received and has not disposed (a long run must not grow them). */
  get liveTensors(): number {
    return this.live.size;
  }

  countMoved(t: { dims: readonly number[]; type: string }) {
    this.moved += t.dims.reduce((n, d) => n * d, 1) * BYTES[FROM_ORT[t.type]];
  }

  /** onnxruntime-node (native, any EP): host tensors in and out, profiles written to files. */
  get native(): boolean {
    return this.kind === "node-cpu" || this.kind === "node-webgpu";
  }

  private wrapAsync<T>(fn: () => Promise<T>): Promise<T> {
    return this.native ? fn() : keepAlive(fn);
  }

  private anchor?: InferenceSession;

  /**
   * WebGPU: ORT destroys its GPUDevice when the last session is released and makes a new one for
   * the next session, which would orphan our buffers. A tiny session held for the engine's lifetime
   * pins the device.
   */
  async init(): Promise<this> {
    if (this.gpu && !this.anchor) {
      const g = new Graph();
      const m = toOnnx({ y: g.identity(g.input("x", "float32", [1])) });
      this.anchor = await this.wrapAsync(() => this.ort.InferenceSession.create(m.bytes, this.opts.sessionOptions ?? {}));
      await this.gpuDevice();
    }
    return this;
  }

  /**
   * Whether fp16 runs here (WebGPU has it only with the adapter's shader-f16): onnxruntime-node's
   * WebGPU EP is asked by running a fp16 -> fp32 Cast, its session logging fatal errors only (the
   * failure is the answer, not an error to print).
   */
  async probeFloat16(): Promise<this> {
    // the web build: the device ORT made says it (and its failed run would print an error anyway)
    if (this.gpu) {
      this.float16 = (await this.gpuDevice()).features.has("shader-f16");
      return this;
    }
    const g = new Graph();
    const bytes = toOnnx({ y: g.cast(g.input("x", "float16", [1]), "float32") }).bytes;
    const so = { ...this.opts.sessionOptions, logSeverityLevel: 4 as const };
    try {
      const s = await this.wrapAsync(() => this.ort.InferenceSession.create(bytes, so));
      await this.wrapAsync(() => s.run({ x: new this.ort.Tensor("float16", new Uint16Array([0x3c00]), [1]) }));
      await s.release();
      this.float16 = true;
    } catch {
      this.float16 = false;
    }
    return this;
  }

  /** WebGPU: the GPUDevice ORT created (after the first session). */
  async gpuDevice(): Promise<GpuDevice> {
    if (!this.device) this.device = (await this.ort.env.webgpu!.device) as GpuDevice;
    if (!this.device) throw new Error("ORT WebGPU device is not initialised yet");
    return this.device;
  }

  get preallocatedOutputs(): boolean {
    return this.gpu;
  }

  async createSession(model: EmittedModel, opts: SessionOptions = {}): Promise<EngineSession> {
    const base = this.opts.sessionOptions ?? {};
    const so: InferenceSession.SessionOptions = { graphOptimizationLevel: "all", logSeverityLevel: 3, ...base };
    if (this.deviceResident) {
      const onDevice = new Set(opts.deviceOutputs ?? []);
      so.preferredOutputLocation = Object.fromEntries(model.outputs.map((o) => [o.name, onDevice.has(o.name) ? "gpu-buffer" : "cpu"]));
    }
    // onnxruntime-node writes the profile to a file (prefix + timestamp); the web builds print it
    let profileDir: string | undefined;
    if (opts.profile) {
      so.enableProfiling = true;
      if (this.native) {
        profileDir = mkdtempSync(join(tmpdir(), "ort-profile-"));
        so.profileFilePrefix = join(profileDir, "profile");
      }
    }
    const session = await this.wrapAsync(() => this.createOrtSession(model, so));
    if (this.gpu) await this.gpuDevice();
    return new OrtSession(this, session, new Set(opts.deviceOutputs ?? []), opts.profile ? { dir: profileDir } : undefined);
  }

  /**
   * A session of `model`, with its external data where it has some: the web builds take the side
   * file's bytes as a session option; onnxruntime-node reads it from beside a model file only, so
   * both are written to a temporary folder for the load (the session keeps no reference to it).
   */
  private async createOrtSession(model: EmittedModel, so: InferenceSession.SessionOptions): Promise<InferenceSession> {
    const ext = model.externalData;
    if (!ext) return this.ort.InferenceSession.create(model.bytes, so);
    if (!this.native) {
      const data = new Uint8Array(ext.byteLength);
      let off = 0;
      for (const c of ext.chunks) {
        data.set(c, off);
        off += c.byteLength;
      }
      return this.ort.InferenceSession.create(model.bytes, { ...so, externalData: [{ path: ext.location, data }] });
    }
    const dir = mkdtempSync(join(tmpdir(), "ort-external-"));
    try {
      const path = join(dir, "model.onnx");
      writeFileSync(path, model.bytes);
      const fd = openSync(join(dir, ext.location), "w");
      try {
        for (const c of ext.chunks) for (let done = 0; done < c.byteLength; ) done += writeSync(fd, c, done);
      } finally {
        closeSync(fd);
      }
      return await this.ort.InferenceSession.create(path, so);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  toOrt(t: HostTensor): OrtTensor {
    return new this.ort.Tensor(ORT_TYPE[t.dtype] as "float32", t.data as Float32Array, t.shape);
  }

  fromOrt(t: OrtTensor): HostTensor {
    return { dtype: FROM_ORT[t.type], shape: [...t.dims], data: t.data as HostArray };
  }

  track(t: OrtTensor) {
    this.live.add(t);
  }

  async upload(t: HostTensor): Promise<DeviceTensor> {
    this.moved += t.data.byteLength;
    if (this.kind === "node-webgpu") {
      const r = await (await this.copySession("in", t.dtype, t.shape.length)).run({ x: this.toOrt(t) });
      this.live.add(r.y);
      return wrap(r.y, "gpu");
    }
    if (!this.gpu) {
      const copy = (t.data as Float32Array).slice();
      return wrap(this.toOrt({ ...t, data: copy }), "cpu");
    }
    const dev = await this.gpuDevice();
    const bytes = t.data.byteLength;
    const buf = dev.createBuffer({ size: align(bytes), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    if (bytes) {
      let view = new Uint8Array(t.data.buffer, t.data.byteOffset, bytes);
      if (bytes % 4) {
        const padded = new Uint8Array(align(bytes));
        padded.set(view);
        view = padded;
      }
      dev.queue.writeBuffer(buf, 0, view);
    }
    return this.gpuTensor(buf, t.dtype, t.shape);
  }

  private gpuTensor(buf: GpuBuffer, dtype: DType, shape: readonly number[]): DeviceTensor {
    const ot = this.ort.Tensor.fromGpuBuffer(buf as never, {
      dataType: ORT_TYPE[dtype] as "float32",
      dims: shape,
      dispose: () => buf.destroy(),
    });
    this.live.add(ot);
    return wrap(ot, "gpu");
  }

  /**
   * onnxruntime-node WebGPU: an Identity session whose output is on the GPU ("in") or on the host
   * ("out"); the EP copies its input there, so a run is the transfer.
   */
  private copySession(direction: "in" | "out", dtype: DType, rank: number): Promise<InferenceSession> {
    const key = `${direction} ${dtype} ${rank}`;
    let s = this.copySessions.get(key);
    if (!s) {
      const g = new Graph();
      const x = g.input(
        "x",
        dtype,
        Array.from({ length: rank }, (_, i) => `d${i}`),
      );
      const so = { ...this.opts.sessionOptions, preferredOutputLocation: { y: direction === "in" ? "gpu-buffer" : "cpu" } } as const;
      s = this.ort.InferenceSession.create(toOnnx({ y: g.identity(x) }).bytes, so);
      this.copySessions.set(key, s);
    }
    return s;
  }

  async alloc(dtype: DType, shape: readonly number[]): Promise<DeviceTensor> {
    const n = shape.reduce((s, d) => s * d, 1);
    if (this.kind === "node-webgpu") return this.upload({ dtype, shape: [...shape], data: allocHost(dtype, n) });
    if (!this.gpu) return wrap(this.toOrt({ dtype, shape: [...shape], data: allocHost(dtype, n) }), "cpu");
    const dev = await this.gpuDevice();
    const buf = dev.createBuffer({ size: align(n * BYTES[dtype]), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    return this.gpuTensor(buf, dtype, shape);
  }

  async download(d: DeviceTensor): Promise<HostTensor> {
    const t = (d.handle as Handle).t;
    this.countMoved(t);
    if (t.location === "cpu") return this.fromOrt(t);
    if (this.kind === "node-webgpu") {
      const r = await (await this.copySession("out", d.dtype, d.shape.length)).run({ x: t });
      return this.fromOrt(r.y);
    }
    const dev = await this.gpuDevice();
    const n = d.shape.reduce((s, x) => s * x, 1);
    const bytes = n * BYTES[d.dtype];
    const size = align(bytes);
    const staging = dev.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    const enc = dev.createCommandEncoder();
    enc.copyBufferToBuffer(t.gpuBuffer as unknown as GpuBuffer, 0, staging, 0, size);
    dev.queue.submit([enc.finish()]);
    await keepAlive(() => staging.mapAsync(MAP_READ_MODE));
    const copy = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    const data = allocHost(d.dtype, n);
    new Uint8Array(data.buffer).set(new Uint8Array(copy));
    return { dtype: d.dtype, shape: [...d.shape], data };
  }

  dispose(d: DeviceTensor): void {
    const t = (d.handle as Handle).t;
    this.live.delete(t);
    if (t.location !== "none") t.dispose();
  }

  async close(): Promise<void> {
    for (const t of this.live) if (t.location !== "none") t.dispose();
    this.live.clear();
    for (const s of this.copySessions.values()) await (await s).release();
    this.copySessions.clear();
    await this.anchor?.release();
    this.anchor = undefined;
    this.device = undefined;
  }
}

function align(n: number): number {
  return Math.max(16, Math.ceil(n / 16) * 16);
}

class OrtSession implements EngineSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  constructor(
    private engine: OrtEngine,
    private session: InferenceSession,
    private deviceOutputs: Set<string>,
    private profiling?: { dir?: string },
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  async endProfiling(): Promise<ProfileEvent[]> {
    const p = this.profiling;
    if (!p) throw new Error("endProfiling: the session was not created with profile: true");
    this.profiling = undefined;
    if (p.dir) {
      this.session.endProfiling();
      const dir = p.dir;
      const text = readdirSync(dir)
        .map((f) => readFileSync(join(dir, f), "utf8"))
        .join("\n");
      rmSync(dir, { recursive: true, force: true });
      return parseOrtProfile(text);
    }
    // onnxruntime-web prints the profile, a JSON array, to stdout with fs.writeSync(1, ...)
    // (Emscripten's TTY); the WebGPU build may finish after endProfiling returns, so wait for the
    // closing bracket
    const fs = createRequire(import.meta.url)("node:fs") as { writeSync: (fd: number, data: unknown, ...rest: unknown[]) => number };
    const writeSync = fs.writeSync;
    let text = "";
    fs.writeSync = (fd, data, ...rest) => {
      if (fd !== 1) return writeSync(fd, data, ...rest);
      const chunk = typeof data === "string" ? data : Buffer.from(data as Uint8Array).toString("utf8");
      text += chunk;
      return typeof data === "string" ? Buffer.byteLength(data) : (data as Uint8Array).byteLength;
    };
    try {
      this.session.endProfiling();
      const t0 = Date.now();
      while (!/^\]\s*$/m.test(text) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
    } finally {
      fs.writeSync = writeSync;
    }
    return parseOrtProfile(text);
  }

  async run(feeds: Record<string, HostTensor | DeviceTensor>, outputs: Record<string, OutputSpec>): Promise<RunResult> {
    const e = this.engine;
    const f: Record<string, OrtTensor> = {};
    for (const name of this.inputNames) {
      const v = feeds[name];
      if (v === undefined) throw new Error(`run: missing feed ${name}`);
      f[name] = isDeviceTensor(v) ? (v.handle as Handle).t : e.toOrt(v);
      if (f[name].location === "cpu") e.countMoved(f[name]);
    }
    const fetches: Record<string, OrtTensor | null> = {};
    for (const [name, spec] of Object.entries(outputs)) {
      if (!this.outputNames.includes(name)) throw new Error(`run: unknown output ${name}`);
      if (spec === "device" && e.deviceResident && !this.deviceOutputs.has(name))
        throw new Error(`run: output ${name} was not declared in deviceOutputs at session creation`);
      fetches[name] = isDeviceTensor(spec) ? (spec.handle as Handle).t : null;
    }
    const r = await (e.native ? this.session.run(f, fetches as never) : keepAlive(() => this.session.run(f, fetches as never)));
    const res: RunResult = { host: {}, device: {} };
    for (const [name, spec] of Object.entries(outputs)) {
      const t = r[name] as OrtTensor;
      if (t.location === "cpu") e.countMoved(t);
      if (spec === "host") {
        if (t.location === "cpu") res.host[name] = e.fromOrt(t);
        else {
          res.host[name] = await e.download(wrap(t, "gpu"));
          t.dispose();
        }
      } else if (isDeviceTensor(spec)) {
        res.device[name] = spec;
      } else {
        if (t.location === "gpu-buffer") e.track(t);
        res.device[name] = wrap(t, t.location === "gpu-buffer" ? "gpu" : "cpu");
      }
    }
    return res;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.profiling?.dir) rmSync(this.profiling.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// factories

export interface WasmEngineOptions {
  numThreads?: number;
}

let webModule: Promise<OrtModule> | undefined;
let webgpuModule: Promise<OrtModule> | undefined;

/** onnxruntime-web, wasm EP (any CPU). numThreads is process-wide for the web module. */
export async function createWasmEngine(opts: WasmEngineOptions = {}): Promise<OrtEngine> {
  webModule ??= import("onnxruntime-web") as unknown as Promise<OrtModule>;
  const ort = await webModule;
  const threads = opts.numThreads ?? 1;
  ort.env.wasm!.numThreads = threads;
  return new OrtEngine(ort, {
    kind: "wasm",
    description: `onnxruntime-web wasm (${threads} thread${threads > 1 ? "s" : ""})`,
    sessionOptions: { executionProviders: ["wasm"] },
  });
}

/**
 * onnxruntime-web WebGPU EP in Node through Dawn (the `webgpu` package). Sessions are created
 * with CPU fallback disabled: an op that would leave the GPU is an error. Throws
 * EngineUnavailable (with the reason) when there is no adapter.
 */
export async function createWebGpuNodeEngine(opts: { allowSwiftShader?: boolean } = {}): Promise<OrtEngine> {
  const probe = await installNodeWebGPU(opts);
  if (!probe.ok) throw new EngineUnavailable(probe.reason);
  webgpuModule ??= import("onnxruntime-web/webgpu") as unknown as Promise<OrtModule>;
  const ort = await webgpuModule;
  ort.env.wasm!.numThreads = 1;
  const label = `${probe.vendor ?? "?"} ${probe.architecture ?? ""} ${probe.description ?? ""}`.trim();
  return new OrtEngine(ort, {
    kind: "webgpu-node",
    description: `onnxruntime-web WebGPU in Node (Dawn; ${label}${probe.software ? "; software adapter: correctness only" : ""})`,
    software: probe.software,
    sessionOptions: {
      executionProviders: ["webgpu"],
      extra: { session: { disable_cpu_ep_fallback: "1" } },
    },
  })
    .init()
    .then((e) => e.probeFloat16());
}

async function nodeModule(): Promise<OrtModule> {
  try {
    const m = (await import("onnxruntime-node")) as unknown as { default?: OrtModule } & OrtModule;
    return m.InferenceSession ? m : m.default!;
  } catch (e) {
    throw new EngineUnavailable(`onnxruntime-node failed to load: ${(e as Error).message}`);
  }
}

/** onnxruntime-node, CPU EP. */
export async function createNodeCpuEngine(opts: { intraOpNumThreads?: number } = {}): Promise<OrtEngine> {
  const ort = await nodeModule();
  const so: InferenceSession.SessionOptions = { executionProviders: ["cpu"] };
  if (opts.intraOpNumThreads) so.intraOpNumThreads = opts.intraOpNumThreads;
  return new OrtEngine(ort, {
    kind: "node-cpu",
    description: `onnxruntime-node CPU${opts.intraOpNumThreads ? ` (${opts.intraOpNumThreads} threads)` : ""}`,
    sessionOptions: so,
  });
}

/**
 * onnxruntime-node's native WebGPU EP (Dawn inside the addon; Linux x64; SwiftShader through
 * VK_ICD_FILENAMES too). Device-resident like the web build: outputs declared in `deviceOutputs`
 * stay GPU tensors that later runs of any session take as inputs, the rest (the loss, metrics)
 * come back as host data; uploads and downloads go through Identity copy sessions.
 */
export async function createNodeWebGpuEngine(): Promise<OrtEngine> {
  const ort = await nodeModule();
  const engine = new OrtEngine(ort, {
    kind: "node-webgpu",
    description: "onnxruntime-node WebGPU EP (native Dawn)",
    sessionOptions: { executionProviders: ["webgpu"], extra: { session: { disable_cpu_ep_fallback: "1" } } },
  });
  // probe: no adapter (or no WebGPU in this build) fails at session creation
  const g = new Graph();
  try {
    const s = await engine.createSession(toOnnx({ y: g.identity(g.input("x", "float32", [1])) }));
    await s.release();
  } catch (e) {
    throw new EngineUnavailable(`onnxruntime-node WebGPU EP: ${(e as Error).message.split("\n")[0]}`);
  }
  return engine.probeFloat16();
}
