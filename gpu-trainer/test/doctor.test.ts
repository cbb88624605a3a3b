/**
 * `iopo-train doctor`: one line saying whether the box can train on a hardware GPU, from the
 * adapter Dawn finds, the driver libraries and the engines that actually load. Here (no GPU)
 * it must say "not ready" and exit 1; the CPU engines load.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DRIVER_LIBS, doctorReport, formatDoctor } from "../src/cli/doctor.ts";

describe("iopo-train doctor", () => {
  it("reports the adapter, the missing driver libraries and the engines; ready only on a hardware adapter", async () => {
    const r = await doctorReport();
    expect(r.engines.cpu).toBe("ok");
    expect(r.engines.wasm).toBe("ok");
    expect(r.ready).toBe(r.adapter.kind === "hardware" && (r.auto === "webgpu" || r.auto === "node-webgpu"));
    if (r.adapter.kind !== "hardware") expect(r.auto).toBe("cpu");
    for (const l of r.missingLibs ?? []) expect(Object.keys(DRIVER_LIBS)).toContain(l);
    const line = formatDoctor({ ...r, adapter: { kind: "none", name: "no GPU adapter" }, missingLibs: ["libGLX.so.0"], ready: false });
    expect(line).toMatch(
      /^not ready for GPU training \| adapter: none \(no GPU adapter\) \| driver libs missing: libGLX\.so\.0 \(libglx0\) \| engines: webgpu .*node-webgpu .*cpu ok, wasm ok \| auto: /,
    );
    expect(line.split("\n")).toHaveLength(1);
  });

  it("the command prints one line and exits 1 without a hardware GPU", () => {
    const bin = fileURLToPath(new URL("../bin/iopo-train.mjs", import.meta.url));
    const p = spawnSync(process.execPath, [bin, "doctor"], { encoding: "utf8", timeout: 120_000 });
    const lines = p.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(p.status).toBe(lines[0].startsWith("ready") ? 0 : 1);
    expect(lines[0]).toMatch(/adapter: .* \| .*driver libs.* \| engines: webgpu .*, node-webgpu .*, cpu ok, wasm ok \| auto: \w/);
  }, 130_000);
});
