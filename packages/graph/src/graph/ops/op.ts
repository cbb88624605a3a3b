/**
 * What an op is: one entry per op holding its shape rule, its reference evaluation, its ONNX
 * emission and its gradient. The drivers (Graph.addNode, the interpreter, toOnnx, grad) loop over
 * nodes and call these; a new op is one entry, and an entry missing a part does not compile.
 */
import type { DType } from "../dtype.ts";
import { GraphError } from "../error.ts";
import type { PbWriter } from "../protobuf.ts";
import type { Dim } from "../shape.ts";
import type { Data, Precision, Value } from "./values.ts";

export type AttrValue = number | string | readonly number[] | readonly Dim[];
export type Attrs = Record<string, AttrValue>;

// The graph builder, its nodes and tensors as the op rules see them: graph.ts's classes, merged
// into these interfaces there (`declare module`). The builder uses this table to type its nodes;
// naming the classes by import here would make the two files import each other.
// biome-ignore lint/suspicious/noEmptyInterface: filled by graph.ts's declaration merging
export interface Graph {}
// biome-ignore lint/suspicious/noEmptyInterface: filled by graph.ts's declaration merging
export interface Node {}
// biome-ignore lint/suspicious/noEmptyInterface: filled by graph.ts's declaration merging
export interface Tensor {}

export interface TypeInfo {
  dtype: DType;
  shape: readonly Dim[];
}

/** Validates the inputs and attributes (throwing GraphError) and returns the output types. */
export type ShapeRule = (ins: readonly Tensor[], a: Attrs, g: Graph) => TypeInfo[];

export interface EvalCtx {
  attrs: Attrs;
  /** The output dtypes shape inference gave. */
  dtypes: DType[];
  precision: Precision;
  /** Output `index` (default 0) of the given shape, filled by `fill` (integer dtypes are cast after). */
  out(shape: number[], fill: (o: Data) => void, index?: number): Value[];
}

/** The op on concrete values (the reference interpreter: plain loops, float64 or emulated fp32). */
export type EvalRule = (ins: Value[], c: EvalCtx) => Value[];

export type AttrKind = "int" | "float" | "string" | "ints";

export interface EmitCtx {
  opset: 17 | 18;
  /** Append one ONNX node. */
  emit(op: string, ins: string[], outs: string[], attrs?: PbWriter[]): void;
  attr(name: string, v: number | string | readonly number[], kind: AttrKind): PbWriter;
  /** The name of an int64 initializer holding `vals` (a 1-D tensor, or a scalar), deduplicated. */
  i64(vals: readonly number[], scalar?: boolean): string;
  /** The name of a scalar initializer of `dtype`, deduplicated. */
  floatConst(v: number, dtype: DType): string;
  /** A shape with the emission's symbolic dims bound. */
  bind(shape: readonly Dim[]): Dim[];
  /** The name of a runtime Shape of `ref` (one Shape node per distinct symbolic shape). */
  runtimeShape(ref: Tensor, refName: string): string;
}

/** Emits node `n`, whose inputs are named `x` and outputs `outs`, as ONNX node(s). */
export type OnnxRule = (e: EmitCtx, n: Node, x: string[], outs: string[]) => void;

export interface GradCtx {
  g: Graph;
  node: Node;
  x: Tensor[];
  y: Tensor[];
  /** Gradient of each output (undefined: that output does not reach the loss). */
  gy: (Tensor | undefined)[];
  /** Whether input i needs a gradient (rules may skip the others). */
  needs: boolean[];
}

/** Given the op's inputs x, outputs y and the output gradients gy, the input gradients. */
export type GradRule = (c: GradCtx) => (Tensor | undefined)[];

/**
 * What `countFlops` charges a node of the op: nothing (data movement), 2·M·N·K (a matrix product),
 * one FLOP per input element (reductions, softmax), or one per output element (the default).
 */
export type OpCost = "free" | "matmul" | "per-input" | "per-output";

export interface OpDef {
  shape: ShapeRule;
  eval: EvalRule;
  onnx: OnnxRule;
  grad: GradRule;
  /** Default "per-output". */
  cost?: OpCost;
  /** The inputs' order does not change the result: common-subexpression elimination sorts them. */
  commutative?: true;
}

/** The gradient of an op whose outputs are bool: none (the driver never asks: only float tensors carry gradients). */
export const NO_GRADIENT: GradRule = () => [];

/** ONNX emission as the same op with no attributes (the IR op is the ONNX op). */
export const sameOnnx: OnnxRule = (e, n, x, outs) => {
  if (Object.keys(n.attrs).length) throw new GraphError(`emitter: unexpected attributes on ${n.op}`);
  e.emit(n.op, x, outs);
};
