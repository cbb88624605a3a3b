/**
 * The one list of devices (`--device`): what each runs on and whether it can train. train,
 * logprobs, generate, eval and their usage texts read it; the benches name engines the same way.
 */
import { cpus } from "node:os";
import { createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine } from "./ort.ts";
import { type Engine, EngineUnavailable } from "./types.ts";
import { installNodeWebGPU } from "./webgpu-node.ts";

/** The devices that train on a GPU adapter; `auto` orders them by GPU_STEP_MS. */
export type GpuDevice = "webgpu" | "node-webgpu";

/** One device's measured IOPO step times on a hardware GPU (ms by "shape mode", bench:gpu's rows) and where they come from. */
export interface StepTimes {
  ms: Record<string, number>;
  source: string;
}

/**
 * The evidence `auto` picks a GPU device by: median IOPO step ms (bench:gpu, fp32) of each GPU
 * device on the same hardware adapter. One line per device; a new measurement replaces its
 * device's line (with its source), and `auto` follows it.
 *
 * node-webgpu's line was measured with host I/O (weights, moments and activations crossing the
 * bus every step, before its state stayed on the GPU): its ~5x cheaper dispatch per node (7 vs
 * 35 us) and 2.4x faster MatMul lost to the transfers, so webgpu leads until node-webgpu is
 * measured device-resident (bench/device-check.sh).
 */
export const GPU_STEP_MS: Record<GpuDevice, StepTimes> = {
  webgpu: {
    ms: { "small full": 115, "small lora": 112, "mid full": 558, "mid lora": 587 },
    source: "H200, issue 12, onnxruntime-web 1.30",
  },
  "node-webgpu": {
    ms: { "small full": 225, "small lora": 109, "mid full": 2781, "mid lora": 638 },
    source: "H200, issue 12, onnxruntime-node 1.30, host I/O",
  },
};

/**
 * The GPU devices, fastest first by the geometric mean of their step-time ratios over the rows
 * both measured (a tie, or no common row, keeps the table's order).
 */
export function rankGpuDevices(table: Record<GpuDevice, StepTimes>): GpuDevice[] {
  const devices = Object.keys(table) as GpuDevice[];
  const logRatio = (a: GpuDevice, b: GpuDevice) => {
    const rows = Object.keys(table[a].ms).filter((r) => r in table[b].ms);
    return rows.reduce((s, r) => s + Math.log(table[a].ms[r] / table[b].ms[r]), 0) / Math.max(1, rows.length);
  };
  return [...devices].sort((a, b) => logRatio(a, b));
}

/**
 * What `auto` picks, best first, among the devices found usable (a GPU device counts only on a
 * hardware adapter, never on SwiftShader): the GPU devices as measured (GPU_STEP_MS), then
 * onnxruntime-node's CPU EP (faster than wasm, and than PyTorch on the small shape), then wasm.
 */
export const AUTO_ORDER: readonly AutoDevice[] = [...rankGpuDevices(GPU_STEP_MS), "cpu", "wasm"];
export type AutoDevice = GpuDevice | "cpu" | "wasm";

/** `auto` in the usage texts: what it picks, in AUTO_ORDER's order (so a new measurement rewrites it too). */
function autoDescription(): string {
  const gpu = AUTO_ORDER.filter((d) => d !== "cpu" && d !== "wasm");
  return `on a hardware GPU adapter ${gpu.join(", else ")} (the faster first, by measured step times), else cpu, else wasm`;
}

export const DEVICE_INFO = {
  auto: { runs: autoDescription(), trains: true },
  cpu: { runs: "onnxruntime-node, CPU EP (the fastest on a CPU box)", trains: true },
  wasm: { runs: "onnxruntime-web, wasm EP (any CPU)", trains: true },
  webgpu: { runs: "onnxruntime-web, WebGPU EP in Node through Dawn (a GPU box; SwiftShader otherwise)", trains: true },
  "node-webgpu": { runs: "onnxruntime-node, native WebGPU EP (a GPU box; SwiftShader otherwise)", trains: true },
  // a page holds the sessions: the trainer's host-side optimizer state would cross for every step
  browser: { runs: "onnxruntime-web, WebGPU EP in headless Chromium", trains: false },
} as const;

export type Device = keyof typeof DEVICE_INFO;
/** The devices train and logprobs accept. */
export type TrainingDevice = { [D in Device]: (typeof DEVICE_INFO)[D]["trains"] extends true ? D : never }[Device];

export const DEVICES = Object.keys(DEVICE_INFO) as Device[];
export const TRAINING_DEVICES = DEVICES.filter((d) => DEVICE_INFO[d].trains) as TrainingDevice[];

export function isDevice(s: string): s is Device {
  return s in DEVICE_INFO;
}

/**
 * `auto`'s choice: the first device of AUTO_ORDER that `usable` gives a value for (an engine, or
 * just `true`), asked in that order and no further, so no device past the choice is opened;
 * undefined when none is usable. createEngine("auto") probes with it, `doctor` reports with it.
 */
export async function pickAutoDevice<T>(
  usable: (d: AutoDevice) => Promise<T | undefined> | T | undefined,
): Promise<{ device: AutoDevice; value: T } | undefined> {
  for (const device of AUTO_ORDER) {
    const value = await usable(device);
    if (value !== undefined) return { device, value };
  }
  return undefined;
}

/** The engine for a device; `auto` falls back quietly, an explicit device that cannot load throws EngineUnavailable. */
export async function createEngine(device: Device, log: (line: string) => void = () => {}): Promise<Engine> {
  const wasm = () => createWasmEngine({ numThreads: Math.max(1, Math.min(4, cpus().length)) });
  switch (device) {
    case "webgpu": {
      const e = await createWebGpuNodeEngine({ allowSwiftShader: true });
      if (e.software) log(`device: ${e.description} (a software adapter: expect it to be slow)`);
      return e;
    }
    case "cpu":
      return createNodeCpuEngine();
    case "node-webgpu":
      return createNodeWebGpuEngine();
    case "wasm":
      return wasm();
    case "browser": {
      // loaded on demand: only this device needs the page runtime and its server
      const { BrowserEngine } = await import("./browser.ts");
      return BrowserEngine.launch({ ep: "webgpu" });
    }
    case "auto":
      return (await pickAutoDevice(probe))?.value ?? wasm();
  }
}

/** An engine for `auto`'s candidate `d` if it is usable here (GPU: a hardware adapter), else undefined. */
async function probe(d: AutoDevice): Promise<Engine | undefined> {
  try {
    switch (d) {
      case "webgpu": {
        const e = await createWebGpuNodeEngine({ allowSwiftShader: false });
        if (!e.software) return e;
        await e.close();
        return undefined;
      }
      case "node-webgpu": {
        // onnxruntime-node's Dawn names no adapter: Dawn for Node (the same Vulkan drivers) tells hardware from software
        const adapter = await installNodeWebGPU({ allowSwiftShader: false });
        return adapter.ok && !adapter.software ? await createNodeWebGpuEngine() : undefined;
      }
      case "cpu":
        return await createNodeCpuEngine();
      case "wasm":
        return await createWasmEngine({ numThreads: Math.max(1, Math.min(4, cpus().length)) });
    }
  } catch (err) {
    if (err instanceof EngineUnavailable) return undefined;
    throw err;
  }
}
