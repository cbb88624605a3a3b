/**
 * The one list of devices (`--device`): what each runs on and whether it can train. train,
 * logprobs, generate, eval and their usage texts read it; the benches name engines the same way.
 */
import { cpus } from "node:os";
import { createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine } from "./ort.ts";
import { type Engine, EngineUnavailable } from "./types.ts";

export const DEVICE_INFO = {
  auto: { runs: "webgpu on a hardware GPU adapter if there is one, else cpu, else wasm", trains: true },
  cpu: { runs: "onnxruntime-node, CPU EP (the fastest on a CPU box)", trains: true },
  wasm: { runs: "onnxruntime-web, wasm EP (any CPU)", trains: true },
  webgpu: { runs: "onnxruntime-web, WebGPU EP in Node through Dawn (a GPU box; SwiftShader otherwise)", trains: true },
  "node-webgpu": {
    runs: "onnxruntime-node, native WebGPU EP (host I/O: the trainer keeps frozen weights inside its sessions)",
    trains: true,
  },
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
 * What `auto` picks, best first, among the devices found usable (a GPU device counts only on a
 * hardware adapter). Measured on one H200 (issue 12), one IOPO step, web build (webgpu) vs
 * onnxruntime-node's native WebGPU EP used with host I/O (node-webgpu, the only way it trains in
 * 1.30: its GPU-resident outputs abort when read or fed back):
 *   small full 115 vs 225 ms, small LoRA 112 vs 109, mid full 558 vs 2781, mid LoRA 587 vs 638,
 *   mid log-probs 60 vs 318.
 * node-webgpu's dispatch is ~5x cheaper per node (7 vs 35 us) and its MatMul 2.4x faster, but
 * moving weights, moments and activations across the bus every step costs more than that saves
 * on every row but one (a tie), so a hardware GPU gets webgpu. node-webgpu is never auto-picked:
 * it cannot tell a hardware adapter from SwiftShader, where it would be slower than the CPU.
 * Without a GPU, onnxruntime-node's CPU EP beats wasm (and PyTorch on the small shape).
 */
export const AUTO_ORDER = ["webgpu", "cpu", "wasm"] as const satisfies readonly Device[];
export type AutoDevice = (typeof AUTO_ORDER)[number];

/** `auto`'s choice given the devices usable here (wasm always is). */
export function pickAutoDevice(usable: ReadonlySet<AutoDevice>): AutoDevice {
  return AUTO_ORDER.find((d) => usable.has(d)) ?? "wasm";
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
    case "auto": {
      // probe in AUTO_ORDER and take the first usable one: pickAutoDevice over lazily probed devices
      for (const d of AUTO_ORDER) {
        const e = await probe(d);
        if (e) return e;
      }
      return wasm();
    }
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
