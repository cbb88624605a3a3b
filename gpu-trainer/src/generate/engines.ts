/**
 * `--device` for the generate and eval commands: the trainer's devices (auto, webgpu, cpu, wasm,
 * node-webgpu; src/train/engine.ts) plus `browser` (WebGPU in headless Chromium).
 *   auto    a hardware GPU adapter if there is one, else onnxruntime-node, else wasm
 *   cpu     onnxruntime-node, CPU EP (the fastest on a CPU box)
 *   wasm    onnxruntime-web, wasm EP (any CPU)
 *   webgpu  onnxruntime-web, WebGPU EP in Node through Dawn (a GPU box; SwiftShader otherwise)
 *   node-webgpu onnxruntime-node, native WebGPU EP (host I/O)
 *   browser onnxruntime-web, WebGPU EP in headless Chromium
 */
import { BrowserEngine } from "../engine/browser.ts";
import type { Engine } from "../engine/types.ts";
import { createEngine } from "../train/engine.ts";

export const DEVICES = ["auto", "cpu", "wasm", "webgpu", "node-webgpu", "browser"] as const;
export type Device = (typeof DEVICES)[number];

export function isDevice(s: string): s is Device {
  return (DEVICES as readonly string[]).includes(s);
}

export async function createEngineFor(device: Device, log?: (line: string) => void): Promise<Engine> {
  if (device === "browser") return BrowserEngine.launch({ ep: "webgpu" });
  return createEngine(device, log);
}
