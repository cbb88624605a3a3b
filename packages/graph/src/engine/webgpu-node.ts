/**
 * WebGPU for onnxruntime-web in Node through the `webgpu` package (Dawn), with the three shims ORT
 * needs there:
 *  1. `navigator.gpu = create([])` and the WebGPU globals (GPUBufferUsage, ...) on globalThis;
 *  2. `GPUQueue.writeBuffer` copies views of SharedArrayBuffers first (Dawn rejects them);
 *  3. an interval keeps the event loop alive while sessions run (otherwise the first run can
 *     stall for tens of seconds while V8 compiles the wasm) — see `keepAlive`.
 *
 * Without a GPU, Dawn's Vulkan backend can use SwiftShader: if no adapter is found and
 * VK_ICD_FILENAMES is unset, we retry with Chromium's SwiftShader ICD when it is installed
 * (Debian: `apt-get install -y chromium libvulkan1`).
 */
import { existsSync } from "node:fs";

export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

export interface AdapterProbe {
  ok: boolean;
  /** Why there is no adapter (when !ok). */
  reason?: string;
  vendor?: string;
  architecture?: string;
  description?: string;
  /** True when the adapter is a software rasterizer (SwiftShader, lavapipe): correctness only. */
  software?: boolean;
  swiftshaderFallback?: boolean;
}

let installed: Promise<AdapterProbe> | undefined;

type GpuLike = { requestAdapter(o?: unknown): Promise<unknown | null> };

/** Install the shims and find an adapter (idempotent). */
export function installNodeWebGPU(opts: { allowSwiftShader?: boolean } = {}): Promise<AdapterProbe> {
  installed ??= install(opts.allowSwiftShader ?? true);
  return installed;
}

async function install(allowSwiftShader: boolean): Promise<AdapterProbe> {
  let mod: { create: (o: string[]) => GpuLike; globals: Record<string, unknown> };
  try {
    mod = (await import("webgpu")) as never;
  } catch (e) {
    return { ok: false, reason: `the 'webgpu' package (Dawn for Node) failed to load: ${(e as Error).message}` };
  }
  Object.assign(globalThis, mod.globals);
  let gpu = mod.create([]);
  let adapter = await gpu.requestAdapter().catch(() => null);
  let swiftshaderFallback = false;
  if (!adapter && allowSwiftShader && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    gpu = mod.create([]);
    adapter = await gpu.requestAdapter().catch(() => null);
    swiftshaderFallback = !!adapter;
  }
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  if (!(globalThis as { navigator?: object }).navigator)
    Object.defineProperty(globalThis, "navigator", { value: nav, configurable: true, writable: true });
  Object.defineProperty(nav, "gpu", { value: gpu, configurable: true, writable: true });

  // shim 2: Dawn rejects ArrayBufferViews over SharedArrayBuffer in writeBuffer
  const Q = (globalThis as unknown as { GPUQueue?: { prototype: Record<string, unknown> } }).GPUQueue;
  if (Q && !(Q.prototype as { __gtPatched?: boolean }).__gtPatched) {
    const orig = Q.prototype.writeBuffer as (...a: unknown[]) => unknown;
    Q.prototype.writeBuffer = function (this: unknown, buf: unknown, off: number, data: unknown, ...rest: unknown[]) {
      if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
        const v = data as Uint8Array;
        data = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
        if (rest.length) {
          // dataOffset/size are in elements of the original view: rescale to bytes
          const bpe = (v as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT ?? 1;
          rest = rest.map((r) => (typeof r === "number" ? r * bpe : r));
        }
      }
      return orig.call(this, buf, off, data, ...rest);
    };
    (Q.prototype as { __gtPatched?: boolean }).__gtPatched = true;
  }

  if (!adapter) {
    const hint = existsSync(SWIFTSHADER_ICD)
      ? `no adapter even with VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? "(unset)"}`
      : `no GPU adapter; for SwiftShader install 'chromium libvulkan1' (Debian) and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`;
    return { ok: false, reason: hint };
  }
  const info = (adapter as { info?: Record<string, string> }).info ?? {};
  const desc = `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.description ?? ""}`;
  return {
    ok: true,
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    software: /swiftshader|llvmpipe|lavapipe|software/i.test(desc),
    swiftshaderFallback,
  };
}

/** Shim 3: keep the event loop alive while `fn` runs. */
export async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const t = setInterval(() => {}, 50);
  try {
    return await fn();
  } finally {
    clearInterval(t);
  }
}
