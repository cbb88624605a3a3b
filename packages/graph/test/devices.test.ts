import { describe, expect, it } from "vitest";
import { AUTO_ORDER, type AutoDevice, DEVICE_INFO, GPU_STEP_MS, pickAutoDevice, rankGpuDevices } from "../src/index.ts";

const pick = (...usable: AutoDevice[]) => pickAutoDevice(new Set(usable));

describe("--device auto", () => {
  it("takes the web build's WebGPU on a hardware adapter, over every CPU engine", () => {
    expect(pick("webgpu", "cpu", "wasm")).toBe("webgpu");
    expect(pick("webgpu", "wasm")).toBe("webgpu");
  });
  it("takes onnxruntime-node's CPU EP without a hardware GPU, else wasm", () => {
    expect(pick("cpu", "wasm")).toBe("cpu");
    expect(pick("wasm")).toBe("wasm");
    expect(pick()).toBe("wasm");
  });
  it("orders the GPU devices by their measured step times, before the CPU engines, never the browser", () => {
    // today's evidence: node-webgpu measured with host I/O, slower than the web build
    expect(AUTO_ORDER).toEqual(["webgpu", "node-webgpu", "cpu", "wasm"]);
    expect(pick("webgpu", "node-webgpu", "cpu")).toBe("webgpu");
    expect(pick("node-webgpu", "cpu")).toBe("node-webgpu");
    for (const d of AUTO_ORDER) expect(DEVICE_INFO[d].trains).toBe(true);
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
