/** The op table: every op of the graph IR, each with its shape rule, evaluation, ONNX emission and gradient. */
import { ELEMENTWISE_OPS } from "./elementwise.ts";
import { INDEXING_OPS } from "./indexing.ts";
import { LINALG_OPS } from "./linalg.ts";
import type { OpDef } from "./op.ts";
import { REDUCE_OPS } from "./reduce.ts";
import { SHAPING_OPS } from "./shaping.ts";

export const OPS = {
  ...ELEMENTWISE_OPS,
  ...LINALG_OPS,
  ...REDUCE_OPS,
  ...INDEXING_OPS,
  ...SHAPING_OPS,
} satisfies Record<string, OpDef>;

export type OpName = keyof typeof OPS;

export function isOpName(op: string): op is OpName {
  return Object.hasOwn(OPS, op);
}

export { NO_GRADIENT } from "./op.ts";
export type { EmitCtx, EvalCtx, GradCtx, GradRule, OpDef, TypeInfo } from "./op.ts";
