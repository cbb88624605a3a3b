/**
 * The page side of the browser engine, as plain JavaScript (served as /runtime.mjs). It holds the
 * ORT sessions and the device tensors in the page; Node talks to it through page.evaluate with
 * base64-encoded host tensors and integer handles for device tensors.
 */
export const PAGE_RUNTIME = String.raw`
const CTOR = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, int32: Int32Array,
  int64: BigInt64Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array,
};
const BYTES = { float32: 4, float64: 8, float16: 2, int32: 4, int64: 8, int8: 1, uint8: 1, bool: 1 };
let ort = null;
let ep = "webgpu";
let device = null;
const sessions = new Map();
const values = new Map();
let nextId = 1;
let anchorSession = null;

function b64encode(u8) {
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}
function b64decode(str) {
  const s = atob(str);
  const u8 = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u8[i] = s.charCodeAt(i);
  return u8;
}
function hostToTyped(h) {
  const u8 = b64decode(h.b64);
  const C = CTOR[h.dtype];
  return new C(u8.buffer, 0, u8.length / C.BYTES_PER_ELEMENT);
}
function typedToHost(dtype, shape, data) {
  return { dtype, shape: Array.from(shape), b64: b64encode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
}
const align = (n) => Math.max(16, Math.ceil(n / 16) * 16);
const numel = (shape) => shape.reduce((a, b) => a * b, 1);

async function readGpu(t) {
  const bytes = numel(t.dims) * BYTES[t.type];
  const size = align(bytes);
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(t.gpuBuffer, 0, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return new CTOR[t.type](copy);
}
function gpuTensor(buf, dtype, shape) {
  return ort.Tensor.fromGpuBuffer(buf, { dataType: dtype, dims: shape, dispose: () => buf.destroy() });
}
function put(t) {
  const id = nextId++;
  values.set(id, t);
  return { id, dtype: t.type, shape: Array.from(t.dims), location: t.location };
}

window.__gt = {
  async init(opts) {
    ep = opts.ep;
    if (ep === "webgpu") {
      if (!("gpu" in navigator)) return { ok: false, reason: "navigator.gpu is missing (secure context? --enable-unsafe-webgpu?)" };
      const adapter = await Promise.race([
        navigator.gpu.requestAdapter(),
        new Promise((r) => setTimeout(() => r("timeout"), opts.adapterTimeoutMs || 10000)),
      ]);
      if (adapter === "timeout") return { ok: false, reason: "requestAdapter() timed out" };
      if (!adapter) return { ok: false, reason: "requestAdapter() returned null (no WebGPU adapter in this browser)" };
      const info = adapter.info || {};
      ort = await import("/ort/ort.webgpu.bundle.min.mjs");
      ort.env.wasm.numThreads = 1;
      return { ok: true, vendor: info.vendor, architecture: info.architecture, description: info.description, f16: adapter.features.has("shader-f16") };
    }
    ort = await import("/ort/ort.wasm.bundle.min.mjs");
    ort.env.wasm.numThreads = opts.numThreads || 1;
    return { ok: true, crossOriginIsolated: self.crossOriginIsolated };
  },
  /** Pin ORT's GPUDevice: ORT destroys it when the last session is released. */
  async anchor(b64) {
    const so = { executionProviders: [ep], extra: { session: { disable_cpu_ep_fallback: "1" } } };
    anchorSession = await ort.InferenceSession.create(b64decode(b64), so);
    device = await ort.env.webgpu.device;
  },
  async createSession(b64, deviceOutputs) {
    const so = { graphOptimizationLevel: "all", logSeverityLevel: 3, executionProviders: [ep] };
    if (ep === "webgpu") {
      so.extra = { session: { disable_cpu_ep_fallback: "1" } };
      const loc = {};
      for (const n of deviceOutputs) loc[n] = "gpu-buffer";
      so.preferredOutputLocation = loc;
    }
    const s = await ort.InferenceSession.create(b64decode(b64), so);
    if (ep === "webgpu" && !device) device = await ort.env.webgpu.device;
    const id = nextId++;
    sessions.set(id, s);
    return { id, inputNames: s.inputNames, outputNames: s.outputNames };
  },
  async releaseSession(id) {
    await sessions.get(id).release();
    sessions.delete(id);
  },
  async run(id, feeds, outputs) {
    const s = sessions.get(id);
    const f = {};
    for (const [k, v] of Object.entries(feeds)) {
      f[k] = v.ref !== undefined ? values.get(v.ref) : new ort.Tensor(v.dtype, hostToTyped(v), v.shape);
    }
    const fetches = {};
    for (const [k, spec] of Object.entries(outputs)) fetches[k] = typeof spec === "number" ? values.get(spec) : null;
    const r = await s.run(f, fetches);
    const host = {};
    const dev = {};
    for (const [k, spec] of Object.entries(outputs)) {
      const t = r[k];
      if (spec === "host") {
        const data = t.location === "gpu-buffer" ? await readGpu(t) : t.data;
        host[k] = typedToHost(t.type, t.dims, data);
      } else if (typeof spec === "number") {
        dev[k] = { id: spec, dtype: t.type, shape: Array.from(t.dims), location: t.location };
      } else dev[k] = put(t);
    }
    return { host, device: dev };
  },
  async upload(h) {
    const data = hostToTyped(h);
    if (ep !== "webgpu") return put(new ort.Tensor(h.dtype, data, h.shape));
    const bytes = data.byteLength;
    const buf = device.createBuffer({ size: align(bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    if (bytes) {
      let view = new Uint8Array(data.buffer, data.byteOffset, bytes);
      if (bytes % 4) { const p = new Uint8Array(align(bytes)); p.set(view); view = p; }
      device.queue.writeBuffer(buf, 0, view);
    }
    return put(gpuTensor(buf, h.dtype, h.shape));
  },
  async alloc(dtype, shape) {
    if (ep !== "webgpu") return put(new ort.Tensor(dtype, new CTOR[dtype](numel(shape)), shape));
    const buf = device.createBuffer({ size: align(numel(shape) * BYTES[dtype]), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    return put(gpuTensor(buf, dtype, shape));
  },
  async download(id) {
    const t = values.get(id);
    const data = t.location === "gpu-buffer" ? await readGpu(t) : t.data;
    return typedToHost(t.type, t.dims, data);
  },
  dispose(id) {
    const t = values.get(id);
    values.delete(id);
    if (t && t.location !== "none") t.dispose();
  },
};
`;
