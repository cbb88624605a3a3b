/**
 * `--device` names for the generate/eval commands: the engine each one creates.
 *   cpu     onnxruntime-node, CPU EP (the fastest on a CPU box)
 *   wasm    onnxruntime-web, wasm EP (any CPU; --threads)
 *   webgpu  onnxruntime-web, WebGPU EP in Node through Dawn (a GPU box; SwiftShader otherwise)
 *   browser onnxruntime-web, WebGPU EP in headless Chromium
 */
import { BrowserEngine } from "../engine/browser.ts";
import { createNodeCpuEngine, createWasmEngine, createWebGpuNodeEngine } from "../engine/ort.ts";
import type { Engine } from "../engine/types.ts";

export const DEVICES = ["cpu", "wasm", "webgpu", "browser"] as const;
export type Device = (typeof DEVICES)[number];

export function isDevice(s: string): s is Device {
  return (DEVICES as readonly string[]).includes(s);
}

export async function createEngineFor(device: Device, opts: { threads?: number } = {}): Promise<Engine> {
  switch (device) {
    case "cpu":
      return createNodeCpuEngine(opts.threads ? { intraOpNumThreads: opts.threads } : {});
    case "wasm":
      return createWasmEngine({ numThreads: opts.threads ?? 1 });
    case "webgpu":
      return createWebGpuNodeEngine({ allowSwiftShader: true });
    case "browser":
      return BrowserEngine.launch({ ep: "webgpu" });
  }
}
