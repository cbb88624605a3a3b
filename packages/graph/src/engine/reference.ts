/**
 * The reference engine: runs the IR of an emitted model with the TypeScript interpreter
 * (float64, or emulated float32). Slow; used to check the ORT engines end to end (same Trainer).
 */
import { type HostArray, toHost } from "../graph/dtype.ts";
import { type Precision, type Value, evaluate } from "../graph/interpreter.ts";
import type { EmittedModel } from "../graph/onnx.ts";
import type { Engine, EngineSession, HostTensor, DeviceTensor, OutputSpec, RunResult, SessionOptions } from "./types.ts";
import { isDeviceTensor } from "./types.ts";

function toValue(t: HostTensor): Value {
  const n = t.data.length;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Number(t.data[i]);
  return { dtype: t.dtype, shape: [...t.shape], data };
}

function toHostTensor(v: Value): HostTensor {
  return { dtype: v.dtype, shape: [...v.shape], data: toHost(v.dtype, v.data) as HostArray };
}

export class ReferenceEngine implements Engine {
  readonly kind = "reference" as const;
  readonly software = true;
  readonly preallocatedOutputs = false;
  readonly description: string;
  constructor(readonly precision: Precision = "float64") {
    this.description = `TypeScript reference interpreter (${precision})`;
  }

  async createSession(model: EmittedModel, _opts?: SessionOptions): Promise<EngineSession> {
    const prec = this.precision;
    const inputs = model.inputTensors;
    const outputNames = Object.keys(model.graphOutputs);
    return {
      inputNames: model.inputs.map((i) => i.name),
      outputNames,
      async run(feeds: Record<string, HostTensor | DeviceTensor>, outputs: Record<string, OutputSpec>): Promise<RunResult> {
        const f: Record<string, Value> = {};
        const p: Record<string, Value> = {};
        for (const t of inputs) {
          const v = feeds[t.name!];
          if (v === undefined) throw new Error(`run: missing feed ${t.name}`);
          const val = isDeviceTensor(v) ? (v.handle as Value) : toValue(v);
          (t.kind === "param" ? p : f)[t.name!] = val;
        }
        const names = Object.keys(outputs);
        const vals = evaluate(
          names.map((n) => model.graphOutputs[n]),
          { feeds: f, params: p, precision: prec },
        );
        const res: RunResult = { host: {}, device: {} };
        names.forEach((n, i) => {
          const v = vals[i];
          if (outputs[n] === "host") res.host[n] = toHostTensor(v);
          else res.device[n] = { dtype: v.dtype, shape: v.shape, location: "cpu", handle: v };
        });
        return res;
      },
      async release() {},
    };
  }

  async upload(t: HostTensor): Promise<DeviceTensor> {
    const v = toValue(t);
    if (this.precision === "float32" && v.dtype === "float32") v.data = Float32Array.from(v.data);
    return { dtype: t.dtype, shape: [...t.shape], location: "cpu", handle: v };
  }
  async alloc(): Promise<DeviceTensor> {
    throw new Error("reference engine: no pre-allocated outputs");
  }
  async download(t: DeviceTensor): Promise<HostTensor> {
    return toHostTensor(t.handle as Value);
  }
  dispose(): void {}
  async close(): Promise<void> {}
}
