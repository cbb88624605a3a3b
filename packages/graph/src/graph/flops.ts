import { DTYPE_BYTES } from "./dtype.ts";
import { type Tensor, liveNodes } from "./graph.ts";
import { OPS, type OpDef } from "./ops/index.ts";
import { bindShape } from "./shape.ts";

export interface FlopCount {
  /** 2*M*N*K summed over MatMuls and Gemms (the usual "model FLOPs"). */
  matmul: number;
  /** Rough count of everything else: one FLOP per output element of other compute ops. */
  other: number;
}

/** FLOPs of the graph computing `outputs`, with symbolic dims bound by `dims`. */
export function countFlops(outputs: Tensor[] | Record<string, Tensor>, dims: Record<string, number> = {}): FlopCount {
  const outs = Array.isArray(outputs) ? outputs : Object.values(outputs);
  const size = (t: Tensor): number => {
    const s = bindShape(t.shape, dims);
    if (!s.every((d) => typeof d === "number")) throw new Error(`countFlops: unbound dims in ${t}`);
    return (s as number[]).reduce((a, b) => a * b, 1);
  };
  let matmul = 0;
  let other = 0;
  for (const n of liveNodes(outs)) {
    const cost = (OPS[n.op] as OpDef).cost ?? "per-output";
    if (cost === "matmul") {
      const a = n.inputs[0];
      const kAxis = n.attrs.transA === 1 ? 0 : a.rank - 1;
      const K = bindShape([a.shape[kAxis]], dims)[0] as number;
      matmul += 2 * size(n.outputs[0]) * K;
    } else if (cost === "per-input") other += size(n.inputs[0]);
    else if (cost === "per-output") other += size(n.outputs[0]);
  }
  return { matmul, other };
}

/**
 * The largest tensor a node of the graph computing `outputs` produces (inputs, params and
 * constants aside), in bytes, with symbolic dims bound by `dims`: a lower bound on the device
 * memory a run needs beyond its inputs, and the tensor that sets it.
 */
export function largestIntermediate(
  outputs: Tensor[] | Record<string, Tensor>,
  dims: Record<string, number> = {},
): { bytes: number; tensor?: Tensor; op?: string } {
  const outs = Array.isArray(outputs) ? outputs : Object.values(outputs);
  let best: { bytes: number; tensor?: Tensor; op?: string } = { bytes: 0 };
  for (const n of liveNodes(outs))
    for (const t of n.outputs) {
      const s = bindShape(t.shape, dims);
      if (!s.every((d) => typeof d === "number")) throw new Error(`largestIntermediate: unbound dims in ${t}`);
      const bytes = (s as number[]).reduce((a, b) => a * b, DTYPE_BYTES[t.dtype]);
      if (bytes > best.bytes) best = { bytes, tensor: t, op: n.op };
    }
  return best;
}
