/**
 * Graph simplification before emission, in one topological replay into a fresh graph:
 *  - dead-node elimination (only nodes reachable from the outputs are replayed);
 *  - algebraic identities (x+0, x*1, x/1, double negation, identity transposes/reshapes/casts,
 *    transpose-of-transpose, reshape-of-reshape, squeeze-of-unsqueeze, StopGradient and CustomGradient -> x,
 *    view(p) + view(q) -> view(p + q));
 *  - Gemm fusions: a scalar-constant Mul into alpha, an Add into C (when the Gemm has no other
 *    consumer, so no product is computed twice);
 *  - constant folding of small results (evaluated by the reference interpreter, fp32-rounded);
 *  - common-subexpression elimination (same op, inputs and attributes; commutative ops sorted;
 *    equal constants shared).
 */
import { type DType, type HostArray, toHost } from "./dtype.ts";
import { Graph, type Node, type Tensor, liveNodes } from "./graph.ts";
import { type Value, evalNode, valueOf } from "./interpreter.ts";
import { OPS, type OpDef } from "./ops/index.ts";
import { dimEq, isStatic } from "./shape.ts";

export interface OptimizeOptions {
  /** Fold constant subgraphs whose results have at most this many elements (default 65536). */
  foldLimit?: number;
  fold?: boolean;
  cse?: boolean;
  algebraic?: boolean;
}

export interface OptimizeResult {
  graph: Graph;
  outputs: Record<string, Tensor>;
  stats: { nodesBefore: number; nodesAfter: number; folded: number; cse: number; algebraic: number };
}

function hashBytes(a: HostArray): string {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h1 = 0x811c9dc5;
  let h2 = 0x1234567;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i], 16777619);
    h2 = Math.imul(h2 ^ b[i], 2246822519) + i;
  }
  return `${b.length}:${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}

function sameBytes(a: HostArray, b: HostArray): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** All elements of a constant equal to v? */
function constAll(t: Tensor, v: number): boolean {
  if (t.kind !== "const" || !t.data || t.data.length > 64) return false;
  for (let i = 0; i < t.data.length; i++) if (Number(t.data[i]) !== v) return false;
  return t.data.length > 0;
}

const isView = (op: string) => op === "Reshape" || op === "ReshapeLike";

function sameShape(a: Tensor, b: { shape: readonly (number | string)[] }): boolean {
  return a.rank === b.shape.length && a.shape.every((d, i) => dimEq(d, b.shape[i]));
}

/**
 * Simplify in two replays: the second sees the first's result, whose use counts are exact, so
 * the fusions into a Gemm (which must own the product they rewrite) find what the first exposed.
 */
export function optimize(outputs: Record<string, Tensor>, opts: OptimizeOptions = {}): OptimizeResult {
  const first = replay(outputs, opts);
  const second = replay(first.outputs, opts);
  const s1 = first.stats;
  const s2 = second.stats;
  return {
    graph: second.graph,
    outputs: second.outputs,
    stats: {
      nodesBefore: s1.nodesBefore,
      nodesAfter: s2.nodesAfter,
      folded: s1.folded + s2.folded,
      cse: s1.cse + s2.cse,
      algebraic: s1.algebraic + s2.algebraic,
    },
  };
}

function replay(outputs: Record<string, Tensor>, opts: OptimizeOptions): OptimizeResult {
  const foldLimit = opts.foldLimit ?? 65536;
  const doFold = opts.fold ?? true;
  const doCse = opts.cse ?? true;
  const doAlg = opts.algebraic ?? true;
  const outList = Object.entries(outputs);
  const src = outList[0][1].graph;
  const g = new Graph(src.options);
  const nodes = liveNodes(outList.map(([, t]) => t));
  // consumers of each source tensor (a graph output counts as one)
  const uses = new Map<number, number>();
  const use = (t: Tensor) => uses.set(t.id, (uses.get(t.id) ?? 0) + 1);
  for (const n of nodes) n.inputs.forEach(use);
  for (const [, t] of outList) use(t);
  /** The source Gemm (no C) whose only consumer is the node reading `t`, seen through one view. */
  const ownedGemm = (t: Tensor): { gemm: Node; view?: Node } | undefined => {
    if (uses.get(t.id) !== 1 || !t.producer) return undefined;
    const p = t.producer;
    if (p.op === "Gemm" && p.inputs.length === 2) return { gemm: p };
    if (isView(p.op)) {
      const q = p.inputs[0];
      if (uses.get(q.id) === 1 && q.producer?.op === "Gemm" && q.producer.inputs.length === 2) return { gemm: q.producer, view: p };
    }
    return undefined;
  };
  const map = new Map<number, Tensor>();
  const consts = new Map<string, Tensor[]>();
  const cseMap = new Map<string, Tensor[]>();
  const stats = { nodesBefore: nodes.length, nodesAfter: 0, folded: 0, cse: 0, algebraic: 0 };

  const constant = (dtype: DType, shape: readonly number[], data: HostArray): Tensor => {
    const key = `${dtype}|${shape.join(",")}|${hashBytes(data)}`;
    const list = consts.get(key) ?? [];
    for (const c of list) if (sameBytes(c.data!, data)) return c;
    const t = g.constant(data, shape, dtype);
    list.push(t);
    consts.set(key, list);
    return t;
  };

  // leaves: keep every input and param of the source graph (stable signatures), consts on demand
  for (const t of src.inputs) map.set(t.id, g.input(t.name!, t.dtype, t.shape));
  for (const p of src.params) {
    const q = g.param(p.name!, p.shape as number[], { dtype: p.dtype, init: p.data, trainable: p.trainable, decay: p.decay });
    map.set(p.id, q);
  }
  const get = (t: Tensor): Tensor => {
    let m = map.get(t.id);
    if (m) return m;
    if (t.kind === "const") {
      m = constant(t.dtype, t.shape as number[], t.data!);
      map.set(t.id, m);
      return m;
    }
    throw new Error(`optimize: tensor ${t} not mapped`);
  };

  const algebraic = (n: Node, ins: Tensor[]): Tensor | undefined => {
    const out = n.outputs[0];
    const [a, b] = ins;
    switch (n.op) {
      case "Identity":
      case "StopGradient":
      case "CustomGradient":
        return a;
      case "Add": {
        if (constAll(b, 0) && sameShape(a, out)) return a;
        if (constAll(a, 0) && sameShape(b, out)) return b;
        // Gemm + Z -> Gemm with C = Z (Z broadcast to the product): gradient contributions
        // summed in the product's kernel
        for (const k of [0, 1] as const) {
          const own = ownedGemm(n.inputs[k]);
          const z = ins[1 - k];
          if (!own || own.view || !sameShape(ins[k], out) || z.rank > 2 || z.dtype !== out.dtype) continue;
          const gm = own.gemm;
          stats.algebraic++;
          return g.gemm(get(gm.inputs[0]), get(gm.inputs[1]), {
            transA: gm.attrs.transA === 1,
            transB: gm.attrs.transB === 1,
            alpha: gm.attrs.alpha as number | undefined,
            c: z,
          });
        }
        // view(p) + view(q) -> view(p + q): gradient contributions that arrive reshaped (e.g. dX
        // of a weight and of a LoRA adapter, each a Gemm on rows) are summed before the one view
        const pa = a.producer;
        const pb = b.producer;
        if (pa && pb && isView(pa.op) && isView(pb.op) && sameShape(a, out) && sameShape(b, out)) {
          const [ba, bb] = [pa.inputs[0], pb.inputs[0]];
          if (ba.rank === bb.rank && sameShape(ba, bb) && ba.dtype === bb.dtype) {
            stats.algebraic++;
            const sum = g.add(ba, bb);
            const like = pa.op === "ReshapeLike" ? pa : pb.op === "ReshapeLike" ? pb : undefined;
            return like ? g.reshapeLike(sum, like.inputs[1]) : g.reshape(sum, out.shape);
          }
        }
        return undefined;
      }
      case "Sub":
        if (constAll(b, 0) && sameShape(a, out)) return a;
        return undefined;
      case "Mul": {
        if (constAll(b, 1) && sameShape(a, out) && a.dtype === out.dtype) return a;
        if (constAll(a, 1) && sameShape(b, out)) return b;
        // [view of] Gemm * scalar constant -> [view of] Gemm with alpha scaled: LoRA's alpha/r
        // on the adapter gradient costs no kernel
        for (const [k, c] of [
          [0, b],
          [1, a],
        ] as const) {
          const own = ownedGemm(n.inputs[k]);
          if (!own || c.kind !== "const" || c.rank !== 0 || !sameShape(ins[k], out)) continue;
          const gm = own.gemm;
          const alpha = ((gm.attrs.alpha as number | undefined) ?? 1) * Number(c.data![0]);
          const fused = g.gemm(get(gm.inputs[0]), get(gm.inputs[1]), {
            transA: gm.attrs.transA === 1,
            transB: gm.attrs.transB === 1,
            alpha,
          });
          stats.algebraic++;
          if (!own.view) return fused;
          return own.view.op === "ReshapeLike" ? g.reshapeLike(fused, get(own.view.inputs[1])) : g.reshape(fused, out.shape);
        }
        return undefined;
      }
      case "Div":
        if (constAll(b, 1) && sameShape(a, out)) return a;
        return undefined;
      case "Pow":
        if (constAll(b, 1) && sameShape(a, out)) return a;
        return undefined;
      case "Neg":
        if (a.producer?.op === "Neg") return a.producer.inputs[0];
        return undefined;
      case "Cast":
        return a.dtype === n.attrs.to ? a : undefined;
      case "Transpose": {
        const perm = n.attrs.perm as number[];
        if (perm.every((p, i) => p === i)) return a;
        if (a.producer?.op === "Transpose") {
          const inner = a.producer.attrs.perm as number[];
          const composed = perm.map((p) => inner[p]);
          stats.algebraic++;
          return g.transpose(a.producer.inputs[0], composed);
        }
        return undefined;
      }
      case "Reshape":
      case "ReshapeLike":
      case "Expand":
      case "ExpandLike":
        if (sameShape(a, out)) return a;
        if ((n.op === "Reshape" || n.op === "ReshapeLike") && (a.producer?.op === "Reshape" || a.producer?.op === "ReshapeLike")) {
          stats.algebraic++;
          const base = a.producer.inputs[0];
          // a view of a view back to the original shape is the original (rows -> [N, T, K] -> rows)
          if (sameShape(base, out)) return base;
          return n.op === "Reshape" ? g.reshape(base, out.shape) : g.reshapeLike(base, ins[1]);
        }
        return undefined;
      case "Squeeze":
        if (a.producer?.op === "Unsqueeze" && String(a.producer.attrs.axes) === String(n.attrs.axes)) return a.producer.inputs[0];
        return undefined;
      case "Unsqueeze":
        if (a.producer?.op === "Squeeze" && String(a.producer.attrs.axes) === String(n.attrs.axes)) return a.producer.inputs[0];
        return undefined;
    }
    return undefined;
  };

  for (const n of nodes) {
    const ins = n.inputs.map(get);
    if (doAlg && n.outputs.length === 1) {
      const r = algebraic(n, ins);
      if (r && r.dtype === n.outputs[0].dtype && sameShape(r, n.outputs[0])) {
        stats.algebraic++;
        map.set(n.outputs[0].id, r);
        continue;
      }
    }
    if (
      doFold &&
      ins.every((t) => t.kind === "const") &&
      n.outputs.every((o) => isStatic(o.shape) && (o.shape as number[]).reduce((s, d) => s * d, 1) <= foldLimit)
    ) {
      const vals: Value[] = ins.map((t) => valueOf(t.dtype, t.shape as number[], t.data!));
      const outs = evalNode(
        n.op,
        vals,
        n.attrs,
        n.outputs.map((o) => o.dtype),
        "float32",
      );
      n.outputs.forEach((o, i) => map.set(o.id, constant(o.dtype, outs[i].shape, toHost(o.dtype, outs[i].data))));
      stats.folded++;
      continue;
    }
    let key = "";
    if (doCse) {
      let ids = ins.map((t) => t.id);
      if ((OPS[n.op] as OpDef).commutative) ids = [...ids].sort((x, y) => x - y);
      key = `${n.op}|${ids.join(",")}|${JSON.stringify(n.attrs)}`;
      const hit = cseMap.get(key);
      if (hit) {
        n.outputs.forEach((o, i) => map.set(o.id, hit[i]));
        stats.cse++;
        continue;
      }
    }
    const outs = g.addNode(n.op, ins, n.attrs);
    if (doCse) cseMap.set(key, outs);
    n.outputs.forEach((o, i) => map.set(o.id, outs[i]));
  }
  const newOutputs: Record<string, Tensor> = {};
  for (const [name, t] of outList) newOutputs[name] = get(t);
  stats.nodesAfter = liveNodes(Object.values(newOutputs)).length;
  return { graph: g, outputs: newOutputs, stats };
}
