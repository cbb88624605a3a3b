/**
 * The one list of devices (`--device`): what each runs on and whether it can train. train,
 * logprobs, generate, eval and their usage texts read it; the benches name engines the same way.
 */
import { cpus } from "node:os";
import { createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine } from "./ort.ts";
import { type Engine, EngineUnavailable } from "./types.ts";

export const DEVICE_INFO = {
  auto: { runs: "a hardware GPU adapter if there is one, else onnxruntime-node, else wasm", trains: true },
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
      try {
        const e = await createWebGpuNodeEngine({ allowSwiftShader: false });
        if (!e.software) return e;
        await e.close();
      } catch (err) {
        if (!(err instanceof EngineUnavailable)) throw err;
      }
      try {
        return await createNodeCpuEngine();
      } catch (err) {
        if (!(err instanceof EngineUnavailable)) throw err;
        return wasm();
      }
    }
  }
}
