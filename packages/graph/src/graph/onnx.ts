/**
 * ONNX emission, opset 17 (default) or 18: the model around the nodes (inputs, initializers,
 * outputs, value info, opset) here; each node as its op's `onnx` in the op table (ops/) emits it,
 * opset differences included.
 */
import { DTYPE_BYTES, type DType, type HostArray, ONNX_DTYPE, allocHost } from "./dtype.ts";
import { type Tensor, GraphError, liveNodes } from "./graph.ts";
import { type EmitCtx, OPS, type OpDef } from "./ops/index.ts";
import { PbWriter } from "./protobuf.ts";
import { type Dim, bindShape, canonDim, isStatic } from "./shape.ts";

export type Opset = 17 | 18;

export interface EmitOptions {
  opset?: Opset;
  /** Params become graph inputs (fed at run time), or with `false` initializers. Default: inputs. */
  paramsAsInputs?: boolean;
  /** Bind symbolic dims to numbers (static model). */
  dims?: Record<string, number>;
  graphName?: string;
  /** Large initializers as ONNX external data in a side file (see ExternalDataOptions). */
  externalData?: ExternalDataOptions;
}

/**
 * ONNX external data: initializers stored in a side file beside the model, each TensorProto naming
 * its `location`, `offset` and `length` there (data_location EXTERNAL), so that weights past
 * protobuf's 2 GiB limit can be written at all.
 */
export interface ExternalDataOptions {
  /** The side file's name, relative to the model file's folder (e.g. "model.onnx.data"). */
  location: string;
  /**
   * Store them there always, or only (the default) when the initializers inlined would pass
   * PROTOBUF_LIMIT_BYTES.
   */
  always?: boolean;
  /** Initializers smaller than this stay inline (default 1024 bytes, as onnx's Python converter). */
  minTensorBytes?: number;
}

/** The side file of an EmittedModel with external data: its name and bytes, in order. */
export interface ExternalData {
  location: string;
  chunks: Uint8Array[];
  byteLength: number;
}

/**
 * protobuf's limit on one message, which an ONNX file is: 2 GiB. Inline initializers past it less
 * this margin (nodes, names, small tensors) go external, or emission fails without externalData.
 */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 2 ** 26;

/** Side-file tensors start at multiples of a page, so onnxruntime can map them rather than copy. */
const EXTERNAL_ALIGN = 4096;

export interface IoInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface EmittedModel {
  bytes: Uint8Array;
  inputs: IoInfo[];
  outputs: IoInfo[];
  /** Tensors fed as inputs, in order (graph inputs then params). */
  inputTensors: Tensor[];
  initializerBytes: number;
  /** Present when initializers went to a side file (EmitOptions.externalData): write it beside `bytes`. */
  externalData?: ExternalData;
  nodeCount: number;
  /** Emitted ONNX nodes by op type (what a kernel-launch count is made of). */
  opCounts: Record<string, number>;
  /** The IR outputs this model computes (the reference engine evaluates these). */
  graphOutputs: Record<string, Tensor>;
  dims: Record<string, number>;
}

const AT = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 };

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): PbWriter {
  const shp = new PbWriter();
  for (const d of shape) {
    const dim = new PbWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shp.message(1, dim);
  }
  const tt = new PbWriter().int(1, ONNX_DTYPE[dtype]).message(2, shp);
  const tp = new PbWriter().message(1, tt);
  return new PbWriter().string(1, name).message(2, tp);
}

/** An initializer: raw_data inline, or (`external`) where its bytes lie in the side file. */
function tensorProto(
  name: string,
  dtype: DType,
  dims: readonly number[],
  data: HostArray,
  external?: { location: string; offset: number },
): PbWriter {
  const w = new PbWriter();
  for (const d of dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[dtype]);
  w.string(8, name);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== dims.reduce((s, d) => s * d, 1) * DTYPE_BYTES[dtype])
    throw new GraphError(`initializer ${name}: ${bytes.length} bytes for ${dtype}[${dims}]`);
  if (!external) {
    w.bytes(9, bytes.slice()); // copy: raw_data must not alias a buffer the caller may mutate
    return w;
  }
  // external_data (13): StringStringEntryProto {key 1, value 2}; data_location (14): EXTERNAL = 1
  const entry = (key: string, value: string) => new PbWriter().string(1, key).string(2, value);
  w.message(13, entry("location", external.location));
  w.message(13, entry("offset", String(external.offset)));
  w.message(13, entry("length", String(bytes.length)));
  w.int(14, 1);
  return w;
}

function attr(name: string, v: number | string | readonly number[], kind: "int" | "float" | "string" | "ints"): PbWriter {
  const w = new PbWriter().string(1, name);
  if (kind === "int") w.int(3, v as number).int(20, AT.INT);
  else if (kind === "float") w.float(2, v as number).int(20, AT.FLOAT);
  else if (kind === "string") w.string(4, v as string).int(20, AT.STRING);
  else {
    for (const x of v as number[]) w.int(8, x);
    w.int(20, AT.INTS);
  }
  return w;
}

/** Serialize the graph that computes `outputs` as an ONNX ModelProto. */
export function toOnnx(outputs: Record<string, Tensor>, opts: EmitOptions = {}): EmittedModel {
  const opset = opts.opset ?? 17;
  const dims = opts.dims ?? {};
  const shapeOf = (t: Tensor): Dim[] => bindShape(t.shape, dims);
  const outList = Object.entries(outputs);
  if (outList.length === 0) throw new GraphError("toOnnx: no outputs");
  const nodes = liveNodes(outList.map(([, t]) => t));
  const graph = new PbWriter();
  const names = new Map<number, string>();
  const used = new Set<string>();
  const uniq = (base: string) => {
    let n = base;
    let k = 1;
    while (used.has(n)) n = `${base}_${k++}`;
    used.add(n);
    return n;
  };
  // reserve output names first so intermediate names never collide with them
  for (const [name] of outList) {
    if (used.has(name)) throw new GraphError(`duplicate output name ${name}`);
    used.add(name);
  }
  const paramsAsInputs = opts.paramsAsInputs ?? true;

  // leaves: inputs, params, consts
  const leaves = new Map<number, Tensor>();
  const visitLeaf = (t: Tensor) => {
    if (t.kind !== "op") leaves.set(t.id, t);
  };
  for (const n of nodes) n.inputs.forEach(visitLeaf);
  for (const [, t] of outList) visitLeaf(t);

  const inputs: IoInfo[] = [];
  const inputTensors: Tensor[] = [];
  const inits: PbWriter[] = [];
  let initBytes = 0;
  const ext = opts.externalData;
  const minExternal = ext?.minTensorBytes ?? 1024;
  const isInitializer = (t: Tensor) => t.kind === "const" || (t.kind === "param" && !paramsAsInputs);
  const inlineBytes = [...leaves.values()].filter(isInitializer).reduce((s, t) => s + t.data!.byteLength, 0);
  const goExternal = !!ext && (ext.always || inlineBytes > PROTOBUF_LIMIT_BYTES);
  if (!goExternal && inlineBytes > PROTOBUF_LIMIT_BYTES)
    throw new GraphError(
      `toOnnx: ${inlineBytes} bytes of initializers pass protobuf's 2 GiB limit: emit them as external data (EmitOptions.externalData) or as inputs`,
    );
  const side: ExternalData | undefined = goExternal ? { location: ext!.location, chunks: [], byteLength: 0 } : undefined;
  /** Append a tensor's bytes to the side file (page-aligned); its offset there. */
  const place = (data: HostArray): number => {
    const pad = (EXTERNAL_ALIGN - (side!.byteLength % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
    if (pad) side!.chunks.push(new Uint8Array(pad));
    const offset = side!.byteLength + pad;
    // a copy, as raw_data's: the side file must not alias a buffer the caller may mutate
    side!.chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    side!.byteLength = offset + data.byteLength;
    return offset;
  };
  const g0 = outList[0][1].graph;
  const orderedLeaves = [...leaves.values()].sort((a, b) => {
    const rank = (t: Tensor) => (t.kind === "input" ? 0 : t.kind === "param" ? 1 : 2);
    return rank(a) - rank(b) || a.id - b.id;
  });
  for (const t of orderedLeaves) {
    if (t.kind === "input" || (t.kind === "param" && paramsAsInputs)) {
      const name = t.name!;
      if (used.has(name)) throw new GraphError(`input name ${name} collides with an output name`);
      used.add(name);
      names.set(t.id, name);
      graph.message(11, valueInfo(name, t.dtype, shapeOf(t)));
      inputs.push({ name, dtype: t.dtype, shape: shapeOf(t) });
      inputTensors.push(t);
    } else {
      const name = t.name && !used.has(t.name) ? (used.add(t.name), t.name) : uniq(`c${t.id}`);
      names.set(t.id, name);
      const external = side && t.data!.byteLength >= minExternal ? { location: side.location, offset: place(t.data!) } : undefined;
      inits.push(tensorProto(name, t.dtype, t.shape as number[], t.data!, external));
      initBytes += t.data!.byteLength;
    }
  }
  void g0;

  // int64 helper initializers, deduplicated
  const intConsts = new Map<string, string>();
  const i64 = (vals: readonly number[], scalar = false): string => {
    const key = `${scalar ? "s" : "v"}:${vals.join(",")}`;
    let n = intConsts.get(key);
    if (!n) {
      n = uniq(`i64_${intConsts.size}`);
      intConsts.set(key, n);
      const a = allocHost("int64", vals.length) as BigInt64Array;
      vals.forEach((v, i) => (a[i] = BigInt(v)));
      inits.push(tensorProto(n, "int64", scalar ? [] : [vals.length], a));
    }
    return n;
  };
  const floatConst = (v: number, dtype: DType): string => {
    const key = `f:${dtype}:${v}`;
    let n = intConsts.get(key);
    if (!n) {
      n = uniq(`k_${intConsts.size}`);
      intConsts.set(key, n);
      const a = allocHost(dtype, 1);
      (a as Float32Array)[0] = v;
      inits.push(tensorProto(n, dtype, [], a));
    }
    return n;
  };

  // output names: a node output that is a graph output takes the output's name
  const outNameOf = new Map<number, string>();
  for (const [name, t] of outList) if (t.kind === "op" && !outNameOf.has(t.id)) outNameOf.set(t.id, name);

  const nameOf = (t: Tensor): string => {
    const n = names.get(t.id);
    if (n === undefined) throw new GraphError(`internal: tensor ${t} used before definition`);
    return n;
  };

  const shapeNames = new Map<string, string>();
  let nodeCount = 0;
  const opCounts: Record<string, number> = {};
  const emit = (op: string, ins: string[], outs: string[], attrs: PbWriter[] = [], name?: string) => {
    const w = new PbWriter();
    for (const i of ins) w.string(1, i);
    for (const o of outs) w.string(2, o);
    w.string(3, name ?? `n${nodeCount}_${op}`);
    w.string(4, op);
    for (const a of attrs) w.message(5, a);
    graph.message(1, w);
    nodeCount++;
    opCounts[op] = (opCounts[op] ?? 0) + 1;
  };

  // the earliest tensor of each symbolic shape that no Transpose produced: what a runtime Shape
  // reads (ORT's transpose optimizer turns Shape(Transpose(x)) into an int64 Gather, a CPU node)
  const firstOfShape = new Map<string, string>();
  const shapeKey = (t: Tensor) => shapeOf(t).map(canonDim).join(",");
  for (const t of inputTensors) if (!isStatic(t.shape)) firstOfShape.set(shapeKey(t), names.get(t.id)!);

  const ctx: EmitCtx = {
    opset,
    emit,
    attr,
    i64,
    floatConst,
    bind: (shape) => bindShape(shape, dims),
    runtimeShape: (ref, refName) => {
      // one Shape node per distinct symbolic shape serves every later ref of that shape (e.g. all
      // [N, T, D]), read from the earliest tensor of that shape (see firstOfShape)
      const key = shapeKey(ref);
      let shp = shapeNames.get(key);
      if (!shp) {
        shp = uniq(`shape_${ref.id}`);
        shapeNames.set(key, shp);
        emit("Shape", [firstOfShape.get(key) ?? refName], [shp]);
      }
      return shp;
    },
  };

  for (const n of nodes) {
    const outs = n.outputs.map((t) => {
      const nm = outNameOf.get(t.id) ?? uniq(`t${t.id}`);
      names.set(t.id, nm);
      return nm;
    });
    (OPS[n.op] as OpDef).onnx(ctx, n, n.inputs.map(nameOf), outs);
    if (n.op !== "Transpose")
      n.outputs.forEach((t, i) => {
        if (!isStatic(t.shape) && !firstOfShape.has(shapeKey(t))) firstOfShape.set(shapeKey(t), outs[i]);
      });
  }

  // graph outputs
  const outputsInfo: IoInfo[] = [];
  for (const [name, t] of outList) {
    const src = nameOf(t);
    if (src !== name) emit("Identity", [src], [name]);
    graph.message(12, valueInfo(name, t.dtype, shapeOf(t)));
    outputsInfo.push({ name, dtype: t.dtype, shape: shapeOf(t) });
  }
  for (const w of inits) graph.message(5, w);
  graph.string(2, opts.graphName ?? "gpu_trainer");

  const model = new PbWriter();
  model.int(1, 8); // ir_version 8 (ONNX 1.13: opsets up to 18)
  model.string(2, "@iopo/gpu-trainer");
  model.string(3, "0.1.0");
  model.message(7, graph);
  model.message(8, new PbWriter().string(1, "").int(2, opset));
  return {
    bytes: model.finish(),
    inputs,
    outputs: outputsInfo,
    inputTensors,
    initializerBytes: initBytes,
    externalData: side,
    nodeCount,
    opCounts,
    graphOutputs: outputs,
    dims,
  };
}
