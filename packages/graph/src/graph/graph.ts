/**
 * A typed graph builder: tensors and ops, each node's inputs checked and output types inferred
 * at build time by its op's shape rule in the op table (ops/).
 *
 * The IR is opset-independent: shape-like arguments (reduce axes, slice bounds, reshape targets,
 * split sizes) are attributes here and become int64 initializers or attributes at ONNX emission,
 * as the chosen opset requires.
 */
import { mulberry32 } from "@iopo/common";
import { type DType, type HostArray, allocHost, toHost } from "./dtype.ts";
import { OPS, type OpDef, type OpName, type TypeInfo, isOpName } from "./ops/index.ts";
import {
  type Dim,
  ShapeError,
  canonDim,
  canonShape,
  dimDiv,
  dimEq,
  dimProd,
  fmtShape,
  normAxes,
  normAxis,
  isStatic,
  staticNumel,
} from "./shape.ts";

export type AttrValue = number | string | readonly number[] | readonly Dim[];
export type Attrs = Record<string, AttrValue>;

export type TensorKind = "input" | "param" | "const" | "op";

export interface ParamOptions {
  dtype?: DType;
  /** Initial values (host array of the param's dtype or plain numbers). */
  init?: HostArray | ArrayLike<number> | ((n: number) => HostArray);
  /** Trainable (gets a gradient and optimizer state). Default true. */
  trainable?: boolean;
  /** Apply decoupled weight decay. Default: true for rank >= 2, false for vectors (norms, biases). */
  decay?: boolean;
}

export class GraphError extends Error {
  override name = "GraphError";
}

export class Node {
  constructor(
    readonly id: number,
    readonly op: OpName,
    readonly inputs: Tensor[],
    readonly attrs: Attrs,
    public outputs: Tensor[] = [],
  ) {}
}

type Operand = Tensor | number;

export class Tensor {
  name?: string;
  /** Constant data or initial param data. */
  data?: HostArray;
  trainable = false;
  decay = false;
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly kind: TensorKind,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    readonly producer?: Node,
    readonly index = 0,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name ?? `%${this.id}`}:${this.dtype}${fmtShape(this.shape)}`;
  }

  // ---- fluent API (all delegate to the graph) ----
  add(o: Operand): Tensor {
    return this.graph.add(this, o);
  }
  sub(o: Operand): Tensor {
    return this.graph.sub(this, o);
  }
  mul(o: Operand): Tensor {
    return this.graph.mul(this, o);
  }
  div(o: Operand): Tensor {
    return this.graph.div(this, o);
  }
  pow(o: Operand): Tensor {
    return this.graph.pow(this, o);
  }
  matmul(o: Tensor): Tensor {
    return this.graph.matmul(this, o);
  }
  neg(): Tensor {
    return this.graph.neg(this);
  }
  exp(): Tensor {
    return this.graph.exp(this);
  }
  log(): Tensor {
    return this.graph.log(this);
  }
  sqrt(): Tensor {
    return this.graph.sqrt(this);
  }
  sigmoid(): Tensor {
    return this.graph.sigmoid(this);
  }
  tanh(): Tensor {
    return this.graph.tanh(this);
  }
  relu(): Tensor {
    return this.graph.relu(this);
  }
  sum(axes?: number | number[], keepdims = false): Tensor {
    return this.graph.reduceSum(this, axes, keepdims);
  }
  mean(axes?: number | number[], keepdims = false): Tensor {
    return this.graph.reduceMean(this, axes, keepdims);
  }
  max(axes?: number | number[], keepdims = false): Tensor {
    return this.graph.reduceMax(this, axes, keepdims);
  }
  reshape(shape: readonly Dim[]): Tensor {
    return this.graph.reshape(this, shape);
  }
  transpose(perm?: readonly number[]): Tensor {
    return this.graph.transpose(this, perm);
  }
  cast(to: DType): Tensor {
    return this.graph.cast(this, to);
  }
  unsqueeze(axes: number | number[]): Tensor {
    return this.graph.unsqueeze(this, axes);
  }
  squeeze(axes: number | number[]): Tensor {
    return this.graph.squeeze(this, axes);
  }
  softmax(axis = -1): Tensor {
    return this.graph.softmax(this, axis);
  }
}

// ---------------------------------------------------------------------------------------------

export interface GraphOptions {
  /** Accept int64 indices for Gather/GatherElements/ScatterElements (default false). */
  allowInt64Indices?: boolean;
}

/** Initializers for params: seeded with the shared PRNG, so a seed draws the same values everywhere. */
export const init = {
  zeros: () => (n: number) => new Float32Array(n),
  ones: () => (n: number) => new Float32Array(n).fill(1),
  /** Normal(0, std) with a seeded Box-Muller. */
  normal:
    (std: number, seed = 1) =>
    (n: number) => {
      const r = mulberry32(seed);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const u = Math.max(r(), 1e-12);
        out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
      }
      return out;
    },
  uniform:
    (lo: number, hi: number, seed = 1) =>
    (n: number) => {
      const r = mulberry32(seed);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
      return out;
    },
};

/** Max inputs of a Concat / outputs of a Split (+1 buffer = WebGPU's default 8 storage buffers). */
export const MAX_KERNEL_OPERANDS = 7;

/**
 * The gradients of a `customGradient`'s `wrt` tensors given the gradient `gy` of its value;
 * `needs[i]`: whether wrt[i] needs one (undefined is fine for the others).
 */
export type CustomGradRule = (gy: Tensor, needs: boolean[]) => (Tensor | undefined)[];

export class Graph {
  readonly nodes: Node[] = [];
  /** The rules of the CustomGradient nodes, by node id. */
  readonly customGradRules = new Map<number, CustomGradRule>();
  readonly tensors: Tensor[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  private names = new Set<string>();
  private scalarCache = new Map<string, Tensor>();
  readonly options: GraphOptions;

  constructor(options: GraphOptions = {}) {
    this.options = options;
  }

  private newTensor(kind: TensorKind, dtype: DType, shape: readonly Dim[], producer?: Node, index = 0): Tensor {
    const t = new Tensor(this, this.tensors.length, kind, dtype, canonShape(shape), producer, index);
    this.tensors.push(t);
    return t;
  }

  private claimName(name: string) {
    if (this.names.has(name)) throw new GraphError(`duplicate tensor name "${name}"`);
    if (!/^[A-Za-z_][\w.:/-]*$/.test(name)) throw new GraphError(`bad tensor name "${name}"`);
    this.names.add(name);
  }

  /** A graph input fed at run time (batch data, labels, hyperparameters). */
  input(name: string, dtype: DType, shape: readonly Dim[]): Tensor {
    this.claimName(name);
    const t = this.newTensor("input", dtype, shape);
    t.name = name;
    this.inputs.push(t);
    return t;
  }

  /** A parameter: static shape, initial data; the caller chooses initializer or input at emission. */
  param(name: string, shape: readonly number[], opts: ParamOptions = {}): Tensor {
    this.claimName(name);
    const dtype = opts.dtype ?? "float32";
    if (!isStatic(shape)) throw new GraphError(`param ${name}: shape must be static, got ${fmtShape(shape)}`);
    const t = this.newTensor("param", dtype, shape);
    t.name = name;
    const n = staticNumel(shape);
    const i = opts.init;
    let data: HostArray;
    if (i === undefined) data = allocHost(dtype, n);
    else if (typeof i === "function") data = i(n);
    else if (ArrayBuffer.isView(i) && (i as HostArray).length === n && sameHostKind(dtype, i as HostArray)) data = i as HostArray;
    else data = toHost(dtype, i as ArrayLike<number>);
    if (data.length !== n) throw new GraphError(`param ${name}: init has ${data.length} values, shape needs ${n}`);
    t.data = data;
    t.trainable = opts.trainable ?? true;
    t.decay = opts.decay ?? shape.length >= 2;
    this.params.push(t);
    return t;
  }

  /** A constant tensor (emitted as an initializer). */
  constant(values: HostArray | ArrayLike<number>, shape: readonly number[], dtype: DType = "float32"): Tensor {
    const n = shape.reduce((s, d) => s * d, 1);
    const data =
      ArrayBuffer.isView(values) && sameHostKind(dtype, values as HostArray)
        ? (values as HostArray)
        : toHost(dtype, values as ArrayLike<number>);
    if (data.length !== n) throw new GraphError(`constant: ${data.length} values for shape ${fmtShape(shape)}`);
    const t = this.newTensor("const", dtype, shape);
    t.data = data;
    return t;
  }

  /** A scalar constant (cached per dtype and value). */
  scalar(v: number, dtype: DType = "float32"): Tensor {
    const key = `${dtype}:${Object.is(v, -0) ? "-0" : v}`;
    let t = this.scalarCache.get(key);
    if (!t) {
      t = this.constant([v], [], dtype);
      this.scalarCache.set(key, t);
    }
    return t;
  }

  private operand(x: Operand, like: Tensor): Tensor {
    if (x instanceof Tensor) {
      if (x.graph !== this) throw new GraphError(`tensor ${x} belongs to another graph`);
      return x;
    }
    return this.scalar(x, like.dtype);
  }

  /** Low-level: append a node after validating inputs and inferring output types. */
  addNode(op: OpName, inputs: Tensor[], attrs: Attrs = {}): Tensor[] {
    if (!isOpName(op)) throw new GraphError(`unknown op ${op}`);
    for (const t of inputs) if (t.graph !== this) throw new GraphError(`${op}: input ${t} belongs to another graph`);
    let types: TypeInfo[];
    try {
      types = (OPS[op] as OpDef).shape(inputs, attrs, this);
    } catch (e) {
      if (e instanceof ShapeError) throw new GraphError(`${op}: ${e.message}`);
      throw e;
    }
    const node = new Node(this.nodes.length, op, inputs, attrs);
    node.outputs = types.map((ti, i) => this.newTensor("op", ti.dtype, ti.shape, node, i));
    this.nodes.push(node);
    return node.outputs;
  }

  private op1(op: OpName, inputs: Tensor[], attrs: Attrs = {}): Tensor {
    return this.addNode(op, inputs, attrs)[0];
  }

  // ---- elementwise ----
  add(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Add", [x, y]);
  }
  sub(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Sub", [x, y]);
  }
  mul(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Mul", [x, y]);
  }
  div(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Div", [x, y]);
  }
  pow(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Pow", [x, y]);
  }
  maximum(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Max", [x, y]);
  }
  minimum(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Min", [x, y]);
  }
  equal(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Equal", [x, y]);
  }
  less(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Less", [x, y]);
  }
  greater(a: Operand, b: Operand): Tensor {
    const [x, y] = this.pair(a, b);
    return this.op1("Greater", [x, y]);
  }
  and(a: Tensor, b: Tensor): Tensor {
    return this.op1("And", [a, b]);
  }
  or(a: Tensor, b: Tensor): Tensor {
    return this.op1("Or", [a, b]);
  }
  not(a: Tensor): Tensor {
    return this.op1("Not", [a]);
  }
  private pair(a: Operand, b: Operand): [Tensor, Tensor] {
    if (a instanceof Tensor) return [a, this.operand(b, a)];
    if (b instanceof Tensor) return [this.operand(a, b), b];
    throw new GraphError("binary op needs at least one tensor operand");
  }

  neg(x: Tensor): Tensor {
    return this.op1("Neg", [x]);
  }
  abs(x: Tensor): Tensor {
    return this.op1("Abs", [x]);
  }
  exp(x: Tensor): Tensor {
    return this.op1("Exp", [x]);
  }
  log(x: Tensor): Tensor {
    return this.op1("Log", [x]);
  }
  sqrt(x: Tensor): Tensor {
    return this.op1("Sqrt", [x]);
  }
  reciprocal(x: Tensor): Tensor {
    return this.op1("Reciprocal", [x]);
  }
  sigmoid(x: Tensor): Tensor {
    return this.op1("Sigmoid", [x]);
  }
  tanh(x: Tensor): Tensor {
    return this.op1("Tanh", [x]);
  }
  erf(x: Tensor): Tensor {
    return this.op1("Erf", [x]);
  }
  relu(x: Tensor): Tensor {
    return this.op1("Relu", [x]);
  }
  identity(x: Tensor): Tensor {
    return this.op1("Identity", [x]);
  }
  /** Forward identity; blocks gradients (emitted as nothing). */
  stopGradient(x: Tensor): Tensor {
    return this.op1("StopGradient", [x]);
  }
  /**
   * `value` with a gradient written by hand: forward it is `value` (emitted as nothing); backward,
   * `rule` gives the gradients of `wrt`, and none flows into the graph that computed `value`. For a
   * computation whose derived backward would keep large intermediates alive that a hand-written
   * one can recompute or avoid (the trainer's vocabulary head, computed in chunks).
   */
  customGradient(value: Tensor, wrt: Tensor[], rule: CustomGradRule): Tensor {
    const t = this.op1("CustomGradient", [value, ...wrt]);
    this.customGradRules.set(t.producer!.id, rule);
    return t;
  }
  where(cond: Tensor, a: Operand, b: Operand): Tensor {
    const like = a instanceof Tensor ? a : b instanceof Tensor ? b : undefined;
    if (!like) throw new GraphError("where: at least one branch must be a tensor");
    return this.op1("Where", [cond, this.operand(a, like), this.operand(b, like)]);
  }
  cast(x: Tensor, to: DType): Tensor {
    if (x.dtype === to) return x;
    return this.op1("Cast", [x], { to });
  }

  // ---- linear algebra, normalisation ----
  matmul(a: Tensor, b: Tensor): Tensor {
    return this.op1("MatMul", [a, b]);
  }
  /**
   * alpha op(a) @ op(b) (+ c) for 2-D a, b; a transpose here is read in place, never materialised,
   * and the scale and the added c (broadcast to the result) cost no kernel of their own.
   */
  gemm(a: Tensor, b: Tensor, t: { transA?: boolean; transB?: boolean; alpha?: number; c?: Tensor } = {}): Tensor {
    const attrs: Attrs = { transA: t.transA ? 1 : 0, transB: t.transB ? 1 : 0 };
    if (t.alpha !== undefined && t.alpha !== 1) attrs.alpha = t.alpha;
    return this.op1("Gemm", t.c ? [a, b, t.c] : [a, b], attrs);
  }
  softmax(x: Tensor, axis = -1): Tensor {
    return this.op1("Softmax", [x], { axis: normAxis(axis, x.rank) });
  }
  /** RMSNorm over the last axis in one kernel: x / sqrt(mean(x²) + eps) * weight. */
  simplifiedLayerNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    return this.op1("SimplifiedLayerNormalization", [x, weight], { epsilon: eps });
  }

  // ---- reductions ----
  private reduce(op: "ReduceSum" | "ReduceMean" | "ReduceMax", x: Tensor, axes: number | number[] | undefined, keepdims: boolean): Tensor {
    const ax = axes === undefined ? x.shape.map((_, i) => i) : normAxes(typeof axes === "number" ? [axes] : axes, x.rank);
    return this.op1(op, [x], { axes: ax, keepdims: keepdims ? 1 : 0 });
  }
  reduceSum(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
    return this.reduce("ReduceSum", x, axes, keepdims);
  }
  reduceMean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
    return this.reduce("ReduceMean", x, axes, keepdims);
  }
  reduceMax(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
    return this.reduce("ReduceMax", x, axes, keepdims);
  }

  // ---- indexing ----
  gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
    return this.op1("Gather", [x, indices], { axis: normAxis(axis, x.rank) });
  }
  gatherElements(x: Tensor, indices: Tensor, axis = -1): Tensor {
    return this.op1("GatherElements", [x, indices], { axis: normAxis(axis, x.rank) });
  }
  scatterElements(x: Tensor, indices: Tensor, updates: Tensor, axis = 0, reduction: "none" | "add" = "none"): Tensor {
    return this.op1("ScatterElements", [x, indices, updates], { axis: normAxis(axis, x.rank), reduction });
  }

  // ---- shape ops ----
  /** Reshape; accepts -1 for one dim and 0 to copy the input dim at the same index. */
  reshape(x: Tensor, shape: readonly Dim[]): Tensor {
    const out: Dim[] = [];
    let infer = -1;
    shape.forEach((d, i) => {
      if (d === -1) {
        if (infer >= 0) throw new GraphError(`reshape: more than one -1 in ${fmtShape(shape)}`);
        infer = i;
        out.push(1);
      } else if (d === 0) {
        if (i >= x.rank) throw new GraphError(`reshape: 0 at index ${i} but input ${x} has rank ${x.rank}`);
        out.push(x.shape[i]);
      } else out.push(canonDim(d));
    });
    const total = dimProd(x.shape);
    if (infer >= 0) {
      const q = dimDiv(total, dimProd(out));
      if (q === undefined) throw new GraphError(`reshape: cannot infer -1 reshaping ${x} to ${fmtShape(shape)}`);
      out[infer] = q;
    } else if (!dimEq(dimProd(out), total)) {
      throw new GraphError(`reshape: ${x} has ${total} elements, target ${fmtShape(out)} has ${dimProd(out)}`);
    }
    return this.op1("Reshape", [x], { shape: out });
  }
  transpose(x: Tensor, perm?: readonly number[]): Tensor {
    const p = perm ? perm.map((a) => normAxis(a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
    if (p.length !== x.rank || new Set(p).size !== p.length) throw new GraphError(`transpose: bad perm [${perm}] for ${x}`);
    return this.op1("Transpose", [x], { perm: p });
  }
  /** Slice along axes; `ends` beyond the dim (or Infinity) mean "to the end". */
  slice(x: Tensor, starts: number[], ends: number[], axes?: number[], steps?: number[]): Tensor {
    const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank));
    const st = steps ?? ax.map(() => 1);
    if (starts.length !== ax.length || ends.length !== ax.length || st.length !== ax.length)
      throw new GraphError("slice: starts, ends, axes and steps must have the same length");
    if (st.some((s) => s === 0 || !Number.isInteger(s))) throw new GraphError("slice: steps must be nonzero integers");
    const BIG = 2 ** 31 - 1;
    const en = ends.map((e) => (e >= BIG ? BIG : e <= -BIG ? -BIG : e));
    return this.op1("Slice", [x], { starts, ends: en, axes: ax, steps: st });
  }
  /**
   * Concatenate along `axis`. More than MAX_KERNEL_OPERANDS inputs become a tree of Concats: a
   * WebGPU kernel may bind only 8 storage buffers per stage by default.
   */
  concat(xs: Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new GraphError("concat of nothing");
    if (xs.length === 1) return xs[0];
    const ax = normAxis(axis, xs[0].rank);
    if (xs.length > MAX_KERNEL_OPERANDS) {
      const groups: Tensor[] = [];
      for (let i = 0; i < xs.length; i += MAX_KERNEL_OPERANDS) groups.push(this.concat(xs.slice(i, i + MAX_KERNEL_OPERANDS), ax));
      return this.concat(groups, ax);
    }
    return this.op1("Concat", xs, { axis: ax });
  }
  split(x: Tensor, sizes: number[], axis: number): Tensor[] {
    const ax = normAxis(axis, x.rank);
    const d = x.shape[ax];
    const total = sizes.reduce((s, n) => s + n, 0);
    if (typeof d !== "number") throw new GraphError(`split: axis ${ax} of ${x} is symbolic; bind dims first`);
    if (d !== total) throw new GraphError(`split: sizes [${sizes}] do not add up to dim ${d} of ${x}`);
    if (sizes.length === 1) return [x];
    if (sizes.length > MAX_KERNEL_OPERANDS) {
      // a tree of Splits (see concat)
      const groups: number[][] = [];
      for (let i = 0; i < sizes.length; i += MAX_KERNEL_OPERANDS) groups.push(sizes.slice(i, i + MAX_KERNEL_OPERANDS));
      const parts = this.split(
        x,
        groups.map((gr) => gr.reduce((a, b) => a + b, 0)),
        ax,
      );
      return groups.flatMap((gr, i) => this.split(parts[i], gr, ax));
    }
    return this.addNode("Split", [x], { axis: ax, split: sizes });
  }
  unsqueeze(x: Tensor, axes: number | number[]): Tensor {
    const a = normAxes(typeof axes === "number" ? [axes] : axes, x.rank + (typeof axes === "number" ? 1 : axes.length));
    return this.op1("Unsqueeze", [x], { axes: a });
  }
  squeeze(x: Tensor, axes: number | number[]): Tensor {
    return this.op1("Squeeze", [x], { axes: normAxes(typeof axes === "number" ? [axes] : axes, x.rank) });
  }
  expand(x: Tensor, shape: readonly Dim[]): Tensor {
    return this.op1("Expand", [x], { shape: canonShape(shape) });
  }
  /** Reshape to the shape of `ref` (resolved at run time when symbolic). */
  reshapeLike(x: Tensor, ref: Tensor): Tensor {
    if (x.rank === ref.rank && x.shape.every((d, i) => dimEq(d, ref.shape[i]))) return x;
    return this.op1("ReshapeLike", [x, ref]);
  }
  /** Broadcast to the shape of `ref` (resolved at run time when symbolic). */
  expandLike(x: Tensor, ref: Tensor): Tensor {
    if (x.rank === ref.rank && x.shape.every((d, i) => dimEq(d, ref.shape[i]))) return x;
    return this.op1("ExpandLike", [x, ref]);
  }
  /** Zeros (of `like`'s dtype unless given) with the shape of `like`. */
  zerosLike(like: Tensor, dtype: DType = like.dtype): Tensor {
    return this.op1("ExpandLike", [this.scalar(0, dtype), like]);
  }
  /** Zeros of a shape (static dims use a constant shape; no large initializer). */
  zeros(shape: readonly Dim[], dtype: DType = "float32"): Tensor {
    return this.expand(this.scalar(0, dtype), shape);
  }
  /** Constant padding: pads = [begin_0..begin_{r-1}, end_0..end_{r-1}] (ONNX order), non-negative. */
  pad(x: Tensor, pads: number[], value = 0): Tensor {
    if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p) || p < 0))
      throw new GraphError(`pad: need ${2 * x.rank} non-negative pads for ${x}, got [${pads}]`);
    return this.op1("Pad", [x], { pads, value });
  }
  /** Lower (upper=false) or upper triangle of the last two dims, diagonal offset k. */
  trilu(x: Tensor, upper: boolean, k = 0): Tensor {
    return this.op1("Trilu", [x], { upper: upper ? 1 : 0, k });
  }
}

function sameHostKind(dtype: DType, a: HostArray): boolean {
  switch (dtype) {
    case "float32":
      return a instanceof Float32Array;
    case "float64":
      return a instanceof Float64Array;
    case "float16":
      return a instanceof Uint16Array;
    case "int32":
      return a instanceof Int32Array;
    case "int64":
      return a instanceof BigInt64Array;
    case "int8":
      return a instanceof Int8Array;
    case "uint8":
    case "bool":
      return a instanceof Uint8Array;
  }
}

/** Topologically ordered nodes needed to compute `outputs` (dead nodes dropped). */
export function liveNodes(outputs: readonly Tensor[]): Node[] {
  const seen = new Set<number>();
  const order: Node[] = [];
  // iterative DFS to avoid deep recursion on long graphs
  const stack: [Node, number][] = [];
  const push = (t: Tensor) => {
    const n = t.producer;
    if (n && !seen.has(n.id)) {
      seen.add(n.id);
      stack.push([n, 0]);
    }
  };
  for (const o of outputs) {
    push(o);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      if (i < n.inputs.length) {
        top[1]++;
        push(n.inputs[i]);
      } else {
        stack.pop();
        order.push(n);
      }
    }
  }
  return order;
}
