/**
 * The engine for `--device`: webgpu (onnxruntime-web's WebGPU EP through Dawn), cpu
 * (onnxruntime-node's CPU EP), wasm (onnxruntime-web, any CPU), node-webgpu (onnxruntime-node's
 * native WebGPU EP, host I/O: the trainer keeps frozen weights inside its sessions), or auto: a
 * hardware GPU adapter if there is one, else onnxruntime-node, else wasm.
 */
import { cpus } from "node:os";
import { createNodeCpuEngine, createNodeWebGpuEngine, createWasmEngine, createWebGpuNodeEngine } from "../engine/ort.ts";
import { type Engine, EngineUnavailable } from "../engine/types.ts";

export const DEVICES = ["auto", "webgpu", "wasm", "cpu", "node-webgpu"] as const;
export type Device = (typeof DEVICES)[number];

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
