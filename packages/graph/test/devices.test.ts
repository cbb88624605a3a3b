import { describe, expect, it } from "vitest";
import { createNodeCpuEngine } from "../src/engine/ort.ts";
import {
  AUTO_ORDER,
  type AutoDevice,
  DEVICE_INFO,
  type EngineKind,
  GPU_STEP_MS,
  createEngine,
  installNodeWebGPU,
  pickAutoDevice,
  rankGpuDevices,
} from "../src/index.ts";
import { tryEngine } from "./helpers.ts";

/** pickAutoDevice over the devices `usable` holds, and the devices it asked about, in order. */
async function pick(...usable: AutoDevice[]): Promise<{ device: AutoDevice | undefined; asked: AutoDevice[] }> {
  const asked: AutoDevice[] = [];
  const choice = await pickAutoDevice(async (d) => {
    asked.push(d);
    return usable.includes(d) ? `engine for ${d}` : undefined;
  });
  if (choice) expect(choice.value).toBe(`engine for ${choice.device}`);
  return { device: choice?.device, asked };
}

describe("--device auto", () => {
  it("takes the web build's WebGPU on a hardware adapter, over every CPU engine, and opens nothing after it", async () => {
    expect(await pick("webgpu", "cpu", "wasm")).toEqual({ device: "webgpu", asked: ["webgpu"] });
    expect((await pick("webgpu", "wasm")).device).toBe("webgpu");
  });
  it("takes onnxruntime-node's CPU EP without a hardware GPU, else wasm, asking in AUTO_ORDER's order", async () => {
    expect(await pick("cpu", "wasm")).toEqual({ device: "cpu", asked: ["webgpu", "node-webgpu", "cpu"] });
    expect((await pick("wasm")).device).toBe("wasm");
    expect(await pick()).toEqual({ device: undefined, asked: [...AUTO_ORDER] });
  });
  it("orders the GPU devices by their measured step times, before the CPU engines, never the browser", async () => {
    // today's evidence: node-webgpu measured with host I/O, slower than the web build
    expect(AUTO_ORDER).toEqual(["webgpu", "node-webgpu", "cpu", "wasm"]);
    expect((await pick("webgpu", "node-webgpu", "cpu")).device).toBe("webgpu");
    expect((await pick("node-webgpu", "cpu")).device).toBe("node-webgpu");
    for (const d of AUTO_ORDER) expect(DEVICE_INFO[d].trains).toBe(true);
  });
  it("createEngine('auto') takes that choice on this box (without a hardware adapter: onnxruntime-node's CPU EP)", async () => {
    const kindOf: Record<AutoDevice, EngineKind> = { webgpu: "webgpu-node", "node-webgpu": "node-webgpu", cpu: "node-cpu", wasm: "wasm" };
    const adapter = await installNodeWebGPU({ allowSwiftShader: true });
    const cpu = await tryEngine(() => createNodeCpuEngine());
    if (cpu.ok) await cpu.value.close();
    const expected: AutoDevice = adapter.ok && !adapter.software ? AUTO_ORDER[0]! : cpu.ok ? "cpu" : "wasm";
    const engine = await createEngine("auto");
    try {
      expect(engine.kind).toBe(kindOf[expected]);
    } finally {
      await engine.close();
    }
  });
  it("a faster measurement of node-webgpu (its one line of GPU_STEP_MS) puts it first", () => {
    const faster = { ...GPU_STEP_MS, "node-webgpu": { ms: { "mid full": 300, "mid lora": 280 }, source: "a later run" } };
    expect(rankGpuDevices(faster)).toEqual(["node-webgpu", "webgpu"]);
    // the geometric mean over the rows both measured: one slower row does not outvote two faster
    const mixed = { ...GPU_STEP_MS, "node-webgpu": { ms: { "small full": 120, "mid full": 200, "mid lora": 300 }, source: "mixed" } };
    expect(rankGpuDevices(mixed)).toEqual(["node-webgpu", "webgpu"]);
  });
  it("is described (`iopo-train --help`) by what it picks, in AUTO_ORDER's order, not by the constant's name", () => {
    const text = DEVICE_INFO.auto.runs;
    expect(text).not.toMatch(/AUTO_ORDER/);
    const positions = AUTO_ORDER.map((device) => text.search(new RegExp(`\\b${device}\\b`)));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
