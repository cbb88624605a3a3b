import type { Tensor } from "./graph.ts";
import { type EmitOptions, type EmittedModel, toOnnx } from "./onnx.ts";
import { type OptimizeOptions, type OptimizeResult, optimize } from "./simplify.ts";

export interface CompileOptions extends EmitOptions {
  /** Simplify before emission (default true); false emits the graph as built. */
  optimize?: boolean | OptimizeOptions;
}

export interface CompiledModel extends EmittedModel {
  stats?: OptimizeResult["stats"];
}

/** Simplify (fold, CSE, DCE) and emit ONNX for the given named outputs. */
export function compile(outputs: Record<string, Tensor>, opts: CompileOptions = {}): CompiledModel {
  if (opts.optimize === false) return toOnnx(outputs, opts);
  const r = optimize(outputs, typeof opts.optimize === "object" ? opts.optimize : {});
  return { ...toOnnx(r.outputs, opts), stats: r.stats };
}
