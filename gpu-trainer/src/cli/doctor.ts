/**
 * `iopo-train doctor`: is this box ready to train on its GPU? One line: the WebGPU adapter Dawn
 * finds (hardware, software or none), the driver libraries the NVIDIA Vulkan ICD needs (libvulkan1
 * and the libglvnd loaders), which engines load, and what `--device auto` would take. Exit status
 * 0 when a hardware adapter is there and a GPU engine loads, else 1.
 */
import { spawnSync } from "node:child_process";
import {
  type AutoDevice,
  type Engine,
  EngineUnavailable,
  createNodeCpuEngine,
  createNodeWebGpuEngine,
  createWasmEngine,
  createWebGpuNodeEngine,
  installNodeWebGPU,
  pickAutoDevice,
} from "@iopo/graph";
import { parseCommandArgs } from "@iopo/common/cli";

export const doctorUsage = `Usage: iopo-train doctor
  One line: the GPU adapter (hardware, software such as SwiftShader, or none), the Vulkan/GL loader
  libraries the NVIDIA driver needs (libvulkan1, libglvnd0, libglx0, libgl1, libegl1), the engines
  that load (webgpu, node-webgpu, cpu, wasm) and what --device auto takes. Exit status 0 when the
  box can train on a hardware GPU, 1 otherwise.`;

/** The loaders NVIDIA's Vulkan ICD (libGLX_nvidia) needs besides the driver, by Debian package. */
export const DRIVER_LIBS: Record<string, string> = {
  "libvulkan.so.1": "libvulkan1",
  "libGLdispatch.so.0": "libglvnd0",
  "libGLX.so.0": "libglx0",
  "libGL.so.1": "libgl1",
  "libEGL.so.1": "libegl1",
};

export interface DoctorReport {
  adapter: { kind: "hardware" | "software" | "none"; name: string };
  /** Libraries of DRIVER_LIBS that the dynamic linker cannot find (undefined: ldconfig unavailable). */
  missingLibs?: string[];
  /** Per engine: "ok", or why it does not load. */
  engines: Record<AutoDevice, string>;
  auto: AutoDevice;
  ready: boolean;
}

/** The dynamic linker's library names (`ldconfig -p`), or undefined without ldconfig. */
function linkerLibraries(): Set<string> | undefined {
  for (const cmd of ["ldconfig", "/sbin/ldconfig"]) {
    const r = spawnSync(cmd, ["-p"], { encoding: "utf8" });
    if (r.status === 0) return new Set([...r.stdout.matchAll(/^\s*(\S+)\s/gm)].map((m) => m[1]));
  }
  return undefined;
}

async function tryEngine(make: () => Promise<Engine>): Promise<string> {
  try {
    const e = await make();
    const note = e.software ? " (software adapter)" : "";
    await e.close();
    return `ok${note}`;
  } catch (e) {
    if (e instanceof EngineUnavailable) return e.message.split("\n")[0];
    throw e;
  }
}

export async function doctorReport(): Promise<DoctorReport> {
  const probe = await installNodeWebGPU({ allowSwiftShader: true });
  const name = [probe.vendor, probe.architecture, probe.description].filter(Boolean).join(" ") || "?";
  const adapter: DoctorReport["adapter"] = !probe.ok
    ? { kind: "none", name: probe.reason ?? "no adapter" }
    : { kind: probe.software ? "software" : "hardware", name };
  const libs = linkerLibraries();
  const engines: Record<AutoDevice, string> = {
    webgpu: await tryEngine(() => createWebGpuNodeEngine({ allowSwiftShader: true })),
    "node-webgpu": await tryEngine(() => createNodeWebGpuEngine()),
    cpu: await tryEngine(() => createNodeCpuEngine()),
    wasm: await tryEngine(() => createWasmEngine()),
  };
  // onnxruntime-node's Dawn names no adapter: it runs on the one Dawn for Node found
  if (engines["node-webgpu"] === "ok" && adapter.kind === "software") engines["node-webgpu"] = "ok (software adapter)";
  // auto counts a GPU engine only on a hardware adapter
  const usable = new Set(
    (Object.keys(engines) as AutoDevice[]).filter(
      (d) => engines[d].startsWith("ok") && (adapter.kind === "hardware" || (d !== "webgpu" && d !== "node-webgpu")),
    ),
  );
  const auto = (await pickAutoDevice((d) => usable.has(d) || undefined))?.device ?? "wasm";
  return {
    adapter,
    missingLibs: libs && Object.keys(DRIVER_LIBS).filter((l) => !libs.has(l)),
    engines,
    auto,
    ready: auto === "webgpu" || auto === "node-webgpu",
  };
}

/** The report as one line. */
export function formatDoctor(r: DoctorReport): string {
  const libs =
    r.missingLibs === undefined
      ? "driver libs: ldconfig unavailable"
      : r.missingLibs.length
        ? `driver libs missing: ${r.missingLibs.map((l) => `${l} (${DRIVER_LIBS[l]})`).join(", ")}`
        : "driver libs ok";
  const engines = Object.entries(r.engines)
    .map(([d, s]) => `${d} ${s.startsWith("ok") ? s : `no (${s})`}`)
    .join(", ");
  return [
    r.ready ? "ready" : "not ready for GPU training",
    `adapter: ${r.adapter.kind === "none" ? `none (${r.adapter.name})` : `${r.adapter.name} (${r.adapter.kind})`}`,
    libs,
    `engines: ${engines}`,
    `auto: ${r.auto}`,
  ].join(" | ");
}

export async function doctorCommand(argv: string[]): Promise<number> {
  if (!parseCommandArgs(argv, {}, doctorUsage)) return 0;
  const r = await doctorReport();
  process.stdout.write(`${formatDoctor(r)}\n`);
  return r.ready ? 0 : 1;
}
