import { describe, expect, it } from "vitest";
import { AUTO_ORDER, type AutoDevice, DEVICE_INFO, pickAutoDevice } from "../src/index.ts";

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
  it("never picks node-webgpu (host I/O, and it cannot tell hardware from SwiftShader) or the browser", () => {
    expect(AUTO_ORDER).not.toContain("node-webgpu");
    expect(AUTO_ORDER).not.toContain("browser");
    for (const d of AUTO_ORDER) expect(DEVICE_INFO[d].trains).toBe(true);
  });
  it("is described (`iopo-train --help`) by what it picks, in AUTO_ORDER's order, not by the constant's name", () => {
    const text = DEVICE_INFO.auto.runs;
    expect(text).not.toMatch(/AUTO_ORDER/);
    const positions = AUTO_ORDER.map((device) => text.search(new RegExp(`\\b${device}\\b`)));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
