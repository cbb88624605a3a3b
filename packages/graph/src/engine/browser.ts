/**
 * ORT Web in headless Chromium (playwright-core): the WebGPU EP (or wasm) runs in a page served
 * from a local 127.0.0.1 server (a secure context, with COOP/COEP so wasm threads work); ORT's
 * JS/wasm files come from node_modules/onnxruntime-web/dist. Sessions and device tensors live in
 * the page; this side holds integer handles.
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import { dirname, join, normalize } from "node:path";
import type { DType, HostArray } from "../graph/dtype.ts";
import { Graph } from "../graph/graph.ts";
import { type EmittedModel, toOnnx } from "../graph/onnx.ts";
import { PAGE_RUNTIME } from "./browser-runtime.ts";
import {
  type DeviceTensor,
  type Engine,
  type EngineSession,
  EngineUnavailable,
  type HostTensor,
  type OutputSpec,
  type RunResult,
  type SessionOptions,
  isDeviceTensor,
} from "./types.ts";

export interface BrowserEngineOptions {
  ep?: "webgpu" | "wasm";
  /** Chromium binary (default /usr/bin/chromium or $CHROMIUM_PATH). */
  executablePath?: string;
  /** Extra Chromium flags (added to --enable-unsafe-webgpu --ignore-gpu-blocklist). */
  args?: string[];
  numThreads?: number;
  adapterTimeoutMs?: number;
  /** Forward page console messages to this callback. */
  onConsole?: (msg: string) => void;
}

interface PageHost {
  dtype: DType;
  shape: number[];
  b64: string;
}
interface PageRef {
  id: number;
  dtype: DType;
  shape: number[];
  location: string;
}

const CTOR: Record<DType, { new (b: ArrayBuffer, o: number, n: number): HostArray; BYTES_PER_ELEMENT: number }> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function toPage(t: HostTensor): PageHost {
  return { dtype: t.dtype, shape: t.shape, b64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("base64") };
}
function fromPage(h: PageHost): HostTensor {
  const buf = Buffer.from(h.b64, "base64");
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  const C = CTOR[h.dtype];
  return { dtype: h.dtype, shape: h.shape, data: new C(ab, 0, ab.byteLength / C.BYTES_PER_ELEMENT) };
}

export function ortWebDistDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
}

type Page = {
  evaluate<R, A>(fn: (a: A) => R | Promise<R>, arg: A): Promise<R>;
  goto(url: string): Promise<unknown>;
  on(ev: string, cb: (m: { text(): string }) => void): void;
};
type Browser = { newPage(): Promise<Page>; close(): Promise<void> };

export class BrowserEngine implements Engine {
  readonly kind: "webgpu-browser" | "wasm-browser";
  readonly preallocatedOutputs: boolean;
  description = "";
  software = false;
  /** See Engine.float16: the adapter's shader-f16 (WebGPU); wasm has fp16 kernels. */
  float16 = true;
  private constructor(
    private browser: Browser,
    private page: Page,
    private server: http.Server,
    readonly ep: "webgpu" | "wasm",
  ) {
    this.kind = ep === "webgpu" ? "webgpu-browser" : "wasm-browser";
    this.preallocatedOutputs = ep === "webgpu";
  }

  /** Launch Chromium and initialise ORT in a page. Throws EngineUnavailable with the reason. */
  static async launch(opts: BrowserEngineOptions = {}): Promise<BrowserEngine> {
    const ep = opts.ep ?? "webgpu";
    const exe = opts.executablePath ?? process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
    let chromium: { launch(o: object): Promise<Browser> };
    try {
      ({ chromium } = (await import("playwright-core")) as never);
    } catch (e) {
      throw new EngineUnavailable(`playwright-core failed to load: ${(e as Error).message}`);
    }
    const dist = ortWebDistDir();
    const server = await serve(dist);
    const port = (server.address() as { port: number }).port;
    let browser: Browser;
    try {
      browser = await chromium.launch({
        executablePath: exe,
        headless: true,
        args: ["--enable-unsafe-webgpu", "--ignore-gpu-blocklist", ...(opts.args ?? [])],
        timeout: 30_000,
      });
    } catch (e) {
      server.close();
      throw new EngineUnavailable(
        `cannot launch Chromium at ${exe} (Debian: apt-get install -y chromium): ${(e as Error).message.split("\n")[0]}`,
      );
    }
    try {
      const page = await browser.newPage();
      if (opts.onConsole) page.on("console", (m) => opts.onConsole!(m.text()));
      await page.goto(`http://127.0.0.1:${port}/`);
      const info = await page.evaluate(
        async (o) => {
          const w = window as unknown as { __gt: { init(o: object): Promise<Record<string, unknown>> } };
          return w.__gt.init(o);
        },
        { ep, numThreads: opts.numThreads ?? 1, adapterTimeoutMs: opts.adapterTimeoutMs ?? 10_000 },
      );
      if (!info.ok) throw new EngineUnavailable(`Chromium WebGPU: ${info.reason}`);
      const e = new BrowserEngine(browser, page, server, ep);
      if (ep === "webgpu") {
        const g = new Graph();
        const m = toOnnx({ y: g.identity(g.input("x", "float32", [1])) });
        await e.call("anchor", Buffer.from(m.bytes).toString("base64"));
        const label = `${info.vendor ?? "?"} ${info.architecture ?? ""} ${info.description ?? ""}`.trim();
        e.software = /swiftshader|llvmpipe|lavapipe/i.test(label);
        e.float16 = info.f16 === true;
        e.description = `onnxruntime-web WebGPU in headless Chromium (${label}${e.software ? "; software adapter: correctness only" : ""})`;
      } else e.description = `onnxruntime-web wasm in headless Chromium (${opts.numThreads ?? 1} thread(s))`;
      return e;
    } catch (err) {
      await browser.close().catch(() => {});
      server.close();
      throw err;
    }
  }

  private call<R>(method: string, ...args: unknown[]): Promise<R> {
    return this.page.evaluate(
      async ([m, a]) => {
        const w = window as unknown as { __gt: Record<string, (...x: unknown[]) => unknown> };
        return (await w.__gt[m as string](...(a as unknown[]))) as R;
      },
      [method, args] as const,
    ) as Promise<R>;
  }

  private ref(r: PageRef): DeviceTensor {
    return { dtype: r.dtype, shape: r.shape, location: "page", handle: r.id };
  }

  async createSession(model: EmittedModel, opts: SessionOptions = {}): Promise<EngineSession> {
    const b64 = Buffer.from(model.bytes).toString("base64");
    const s = await this.call<{ id: number; inputNames: string[]; outputNames: string[] }>("createSession", b64, opts.deviceOutputs ?? []);
    return {
      inputNames: s.inputNames,
      outputNames: s.outputNames,
      run: async (feeds, outputs) => this.run(s.id, s.inputNames, feeds, outputs),
      release: async () => {
        await this.call("releaseSession", s.id);
      },
    };
  }

  private async run(
    id: number,
    inputNames: readonly string[],
    feeds: Record<string, HostTensor | DeviceTensor>,
    outputs: Record<string, OutputSpec>,
  ): Promise<RunResult> {
    const f: Record<string, PageHost | { ref: number }> = {};
    for (const n of inputNames) {
      const v = feeds[n];
      if (!v) throw new Error(`run: missing feed ${n}`);
      f[n] = isDeviceTensor(v) ? { ref: v.handle as number } : toPage(v);
    }
    const o: Record<string, string | number> = {};
    for (const [k, s] of Object.entries(outputs)) o[k] = isDeviceTensor(s) ? (s.handle as number) : s;
    const r = await this.call<{ host: Record<string, PageHost>; device: Record<string, PageRef> }>("run", id, f, o);
    const res: RunResult = { host: {}, device: {} };
    for (const [k, h] of Object.entries(r.host)) res.host[k] = fromPage(h);
    for (const [k, d] of Object.entries(r.device)) {
      const spec = outputs[k];
      res.device[k] = isDeviceTensor(spec) ? spec : this.ref(d);
    }
    return res;
  }

  async upload(t: HostTensor): Promise<DeviceTensor> {
    return this.ref(await this.call<PageRef>("upload", toPage(t)));
  }
  async alloc(dtype: DType, shape: readonly number[]): Promise<DeviceTensor> {
    return this.ref(await this.call<PageRef>("alloc", dtype, [...shape]));
  }
  async download(t: DeviceTensor): Promise<HostTensor> {
    return fromPage(await this.call<PageHost>("download", t.handle));
  }
  dispose(t: DeviceTensor): void {
    void this.call("dispose", t.handle).catch(() => {});
  }
  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
    this.server.close();
  }
}

const MIME: Record<string, string> = {
  ".mjs": "text/javascript",
  ".js": "text/javascript",
  ".wasm": "application/wasm",
  ".html": "text/html",
  ".map": "application/json",
};

async function serve(dist: string): Promise<http.Server> {
  const headers = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    try {
      if (url.pathname === "/") {
        res.writeHead(200, { ...headers, "content-type": "text/html" });
        res.end('<!doctype html><html><head><script type="module" src="/runtime.mjs"></script></head><body></body></html>');
      } else if (url.pathname === "/runtime.mjs") {
        res.writeHead(200, { ...headers, "content-type": "text/javascript" });
        res.end(PAGE_RUNTIME);
      } else if (url.pathname === "/favicon.ico") {
        res.writeHead(204, headers);
        res.end();
      } else if (url.pathname.startsWith("/ort/")) {
        const file = normalize(join(dist, url.pathname.slice(5)));
        if (!file.startsWith(dist)) throw new Error("outside dist");
        const body = await readFile(file);
        const ext = file.slice(file.lastIndexOf("."));
        res.writeHead(200, { ...headers, "content-type": MIME[ext] ?? "application/octet-stream" });
        res.end(body);
      } else {
        res.writeHead(404, headers);
        res.end();
      }
    } catch {
      res.writeHead(404, headers);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return server;
}
