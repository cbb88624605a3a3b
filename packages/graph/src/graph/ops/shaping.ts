/**
 * Shape ops: views (Reshape, Squeeze, Unsqueeze), data movement (Transpose, Slice, Concat, Split,
 * Pad, Expand), Trilu, and the ops that take their target shape from a tensor at run time
 * (ReshapeLike, ExpandLike). The IR keeps shape-like arguments as attributes; ONNX takes them as
 * int64 inputs (initializers) in both opsets.
 */
import { GraphError } from "../error.ts";
import type { Attrs } from "./op.ts";
import { type Dim, ShapeError, broadcastShapes, canonDim, dimEq, dimProd, fmtShape, stridesOf } from "../shape.ts";
import { sameDtype } from "./elementwise.ts";
import { END, inversePerm, unbroadcast } from "./gradients.ts";
import type { EvalCtx, OnnxRule, OpDef } from "./op.ts";
import { type Value, bcastOffsets, bcastOffsetsStrided, bshape, resolveDims, size } from "./values.ts";

/** Output length of a slice. Large ends (>= 2^31) mean "to the end". */
export function sliceLen(d: Dim, start: number, end: number, step: number): Dim {
  if (typeof d === "number") {
    const [s, e] = clampSlice(d, start, end, step);
    return step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
  }
  if (step === 1 && start >= 0 && end >= END) {
    if (start === 0) return d;
  }
  if (step === 1 && start >= 0 && end >= 0 && end < END) return end - start; // assumes in range
  throw new ShapeError(`symbolic dim ${d} with start ${start} end ${end} step ${step}: bind dims first`);
}

export function clampSlice(d: number, start: number, end: number, step: number): [number, number] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
  } else {
    s = Math.min(Math.max(s, -1), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
  }
  return [s, e];
}

function dimSum(ds: Dim[]): Dim {
  if (ds.every((d) => typeof d === "number")) return (ds as number[]).reduce((s, d) => s + d, 0);
  // a + a + ... of the same symbol -> k*a
  const c = ds.map((d) => canonDim(d));
  if (c.every((d) => d === c[0])) return dimProd([c.length, c[0]]);
  throw new ShapeError(`cannot add symbolic dims ${ds.join(" + ")}; bind them first`);
}

/** Reshape target as ONNX int64 shape: numbers, 0 = copy input dim, one -1 = infer. */
export function encodeReshape(inShape: readonly Dim[], outShape: readonly Dim[]): number[] {
  let inferred = false;
  return outShape.map((d, i) => {
    if (typeof d === "number") {
      if (d === 0) throw new GraphError("reshape to a zero-size dim is not supported");
      return d;
    }
    if (i < inShape.length && canonDim(inShape[i]) === canonDim(d)) return 0;
    if (!inferred) {
      inferred = true;
      return -1;
    }
    throw new GraphError(
      `cannot encode reshape ${fmtShape(inShape)} -> ${fmtShape(outShape)} with symbolic dims; bind dims (EmitOptions.dims)`,
    );
  });
}

/** Expand target as ONNX int64 shape: symbolic dims must come from the input (encoded as 1). */
export function encodeExpand(inShape: readonly Dim[], outShape: readonly Dim[]): number[] {
  const lead = outShape.length - inShape.length;
  return outShape.map((d, i) => {
    if (typeof d === "number") return d;
    if (i >= lead && canonDim(inShape[i - lead]) === canonDim(d)) return 1;
    throw new GraphError(
      `cannot encode expand ${fmtShape(inShape)} -> ${fmtShape(outShape)}: symbolic dim ${d} not in the input; bind dims`,
    );
  });
}

/** The same data under a new shape (the size checked at run time). */
function view(x: Value, shape: number[], c: EvalCtx, op: string): Value[] {
  if (size(shape) !== x.data.length) throw new GraphError(`${op}: runtime size mismatch [${x.shape}] -> [${shape}]`);
  return c.out(shape, (o) => o.set(x.data));
}

function broadcastTo(x: Value, shape: number[], c: EvalCtx): Value[] {
  const offs = bcastOffsets(x.shape, shape);
  return c.out(shape, (o) => {
    for (let i = 0; i < o.length; i++) o[i] = x.data[offs[i]];
  });
}

const unsqueezed = (shape: readonly Dim[], a: Attrs): Dim[] => {
  const axes = a.axes as number[];
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < shape.length + axes.length; i++) out.push(axes.includes(i) ? 1 : shape[j++]);
  return out;
};

const squeezed = (shape: readonly Dim[], a: Attrs): Dim[] => shape.filter((_, i) => !(a.axes as number[]).includes(i));

const axesInput: OnnxRule = (e, n, x, outs) => e.emit(n.op, [x[0], e.i64(n.attrs.axes as number[])], outs);

/**
 * ReshapeLike/ExpandLike as Reshape/Expand: a constant target when it can be encoded, else the
 * runtime Shape of the reference (Shape runs on the GPU EP too: measured, no CPU fallback).
 */
function likeOnnx(op: "Reshape" | "Expand"): OnnxRule {
  return (e, n, x, outs) => {
    const from = e.bind(n.inputs[0].shape);
    const target = e.bind(n.outputs[0].shape);
    let enc: number[] | undefined;
    try {
      enc = op === "Reshape" ? encodeReshape(from, target) : encodeExpand(from, target);
    } catch {
      enc = undefined;
    }
    e.emit(op, [x[0], enc ? e.i64(enc) : e.runtimeShape(n.inputs[1], x[1])], outs);
  };
}

export const SHAPING_OPS = {
  Reshape: {
    cost: "free",
    shape: ([x], a) => [{ dtype: x.dtype, shape: a.shape as Dim[] }],
    eval: ([x], c) => view(x, resolveDims(c.attrs.shape as Dim[], x), c, "Reshape"),
    onnx: (e, n, x, outs) =>
      e.emit("Reshape", [x[0], e.i64(encodeReshape(e.bind(n.inputs[0].shape), e.bind(n.attrs.shape as Dim[])))], outs),
    grad: ({ g, x, gy }) => [g.reshapeLike(gy[0]!, x[0])],
  },
  /** Reshape x to the (runtime) shape of ref. */
  ReshapeLike: {
    cost: "free",
    shape: ([x, ref]) => {
      if (!dimEq(dimProd(x.shape), dimProd(ref.shape))) throw new ShapeError(`${x} and ${ref} differ in size`);
      return [{ dtype: x.dtype, shape: ref.shape }];
    },
    eval: ([x, ref], c) => {
      if (ref.data.length !== x.data.length) throw new GraphError(`ReshapeLike: size mismatch [${x.shape}] -> [${ref.shape}]`);
      return c.out([...ref.shape], (o) => o.set(x.data));
    },
    onnx: likeOnnx("Reshape"),
    grad: ({ g, x, gy }) => [g.reshapeLike(gy[0]!, x[0]), undefined],
  },
  /** Broadcast x to the (runtime) shape of ref. */
  ExpandLike: {
    cost: "free",
    shape: ([x, ref]) => {
      const shape = broadcastShapes(x.shape, ref.shape);
      if (shape.length !== ref.rank || !shape.every((d, i) => dimEq(d, ref.shape[i])))
        throw new ShapeError(`${x} does not broadcast to ${ref}`);
      return [{ dtype: x.dtype, shape: ref.shape }];
    },
    eval: ([x, ref], c) => broadcastTo(x, [...ref.shape], c),
    onnx: likeOnnx("Expand"),
    grad: ({ g, x, gy }) => [unbroadcast(g, gy[0]!, x[0]), undefined],
  },
  Expand: {
    cost: "free",
    shape: ([x], a) => [{ dtype: x.dtype, shape: broadcastShapes(x.shape, a.shape as Dim[]) }],
    eval: ([x], c) => broadcastTo(x, bshape(x.shape, resolveDims(c.attrs.shape as Dim[], x, true)), c),
    onnx: (e, n, x, outs) => e.emit("Expand", [x[0], e.i64(encodeExpand(e.bind(n.inputs[0].shape), e.bind(n.outputs[0].shape)))], outs),
    grad: ({ g, x, gy }) => [unbroadcast(g, gy[0]!, x[0])],
  },
  Transpose: {
    cost: "free",
    shape: ([x], a) => [{ dtype: x.dtype, shape: (a.perm as number[]).map((p) => x.shape[p]) }],
    eval: ([x], c) => {
      const perm = c.attrs.perm as number[];
      const xs = stridesOf(x.shape);
      const shape = perm.map((p) => x.shape[p]);
      const offs = bcastOffsetsStrided(
        shape,
        perm.map((p) => xs[p]),
      );
      return c.out(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[offs[i]];
      });
    },
    onnx: (e, n, x, outs) => e.emit("Transpose", x, outs, [e.attr("perm", n.attrs.perm as number[], "ints")]),
    grad: ({ g, gy, node }) => [g.transpose(gy[0]!, inversePerm(node.attrs.perm as number[]))],
  },
  Unsqueeze: {
    cost: "free",
    shape: ([x], a) => [{ dtype: x.dtype, shape: unsqueezed(x.shape, a) }],
    eval: ([x], c) => view(x, unsqueezed(x.shape, c.attrs) as number[], c, "Unsqueeze"),
    onnx: axesInput,
    grad: ({ g, gy, node }) => [g.squeeze(gy[0]!, node.attrs.axes as number[])],
  },
  Squeeze: {
    cost: "free",
    shape: ([x], a) => {
      for (const ax of a.axes as number[]) if (x.shape[ax] !== 1) throw new ShapeError(`dim ${ax} of ${x} is not 1`);
      return [{ dtype: x.dtype, shape: squeezed(x.shape, a) }];
    },
    eval: ([x], c) => view(x, squeezed(x.shape, c.attrs) as number[], c, "Squeeze"),
    onnx: axesInput,
    grad: ({ g, gy, node }) => [g.unsqueeze(gy[0]!, node.attrs.axes as number[])],
  },
  /** The lower (upper=0) or upper triangle of the last two dims, diagonal offset k. */
  Trilu: {
    shape: ([x]) => {
      if (x.rank < 2) throw new ShapeError(`needs rank >= 2, got ${x}`);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    eval: ([x], c) => {
      const upper = c.attrs.upper === 1;
      const k = c.attrs.k as number;
      const R = x.shape[x.shape.length - 2];
      const C = x.shape[x.shape.length - 1];
      return c.out(x.shape, (o) => {
        for (let i = 0; i < o.length; i++) {
          const col = i % C;
          const r = Math.floor(i / C) % R;
          const keep = upper ? col - r >= k : col - r <= k;
          o[i] = keep ? x.data[i] : 0;
        }
      });
    },
    onnx: (e, n, x, outs) => {
      const k = n.attrs.k as number;
      e.emit("Trilu", k === 0 ? x : [x[0], e.i64([k], true)], outs, [e.attr("upper", n.attrs.upper as number, "int")]);
    },
    grad: ({ g, gy, node }) => [g.trilu(gy[0]!, node.attrs.upper === 1, node.attrs.k as number)],
  },
  Slice: {
    cost: "free",
    shape: ([x], a) => {
      const shape = [...x.shape];
      const steps = a.steps as number[];
      (a.axes as number[]).forEach((ax, i) => {
        shape[ax] = sliceLen(x.shape[ax], (a.starts as number[])[i], (a.ends as number[])[i], steps[i]);
      });
      return [{ dtype: x.dtype, shape }];
    },
    eval: ([x], c) => {
      const { axes, starts, ends, steps } = c.attrs as Record<string, number[]>;
      const xs = stridesOf(x.shape);
      const shape = [...x.shape];
      const begin = x.shape.map(() => 0);
      const step = x.shape.map(() => 1);
      axes.forEach((ax, i) => {
        const [s, e] = clampSlice(x.shape[ax], starts[i], ends[i], steps[i]);
        const st = steps[i];
        shape[ax] = st > 0 ? Math.max(0, Math.ceil((e - s) / st)) : Math.max(0, Math.ceil((s - e) / -st));
        begin[ax] = s;
        step[ax] = st;
      });
      const base = begin.reduce((acc, b, i) => acc + b * xs[i], 0);
      const offs = bcastOffsetsStrided(
        shape,
        xs.map((s, i) => s * step[i]),
      );
      return c.out(shape, (o) => {
        for (let i = 0; i < o.length; i++) o[i] = x.data[base + offs[i]];
      });
    },
    onnx: (e, n, x, outs) => {
      const { starts, ends, axes, steps } = n.attrs as Record<string, number[]>;
      e.emit("Slice", [x[0], e.i64(starts), e.i64(ends), e.i64(axes), e.i64(steps)], outs);
    },
    grad: ({ g, x, gy, node }) => {
      const X = x[0];
      const a = node.attrs;
      const axes = a.axes as number[];
      const pads = new Array<number>(2 * X.rank).fill(0);
      axes.forEach((ax, i) => {
        const d = X.shape[ax];
        const st = (a.steps as number[])[i];
        const s0 = (a.starts as number[])[i];
        const e0 = (a.ends as number[])[i];
        if (st !== 1) throw new GraphError(`Slice gradient: step ${st} is not supported (use step 1)`);
        if (typeof d === "number") {
          const [s, e] = clampSlice(d, s0, e0, 1);
          pads[ax] = s;
          pads[ax + X.rank] = d - Math.max(e, s);
        } else {
          if (s0 < 0 || e0 < END) throw new GraphError(`Slice gradient on symbolic dim ${d} needs start >= 0 and no end; bind dims`);
          pads[ax] = s0;
        }
      });
      return [g.pad(gy[0]!, pads)];
    },
  },
  /** Constant padding: pads = [begin_0..begin_{r-1}, end_0..end_{r-1}] (ONNX order). */
  Pad: {
    cost: "free",
    shape: ([x], a) => {
      const pads = a.pads as number[];
      const r = x.rank;
      const shape = x.shape.map((d, i) => {
        const extra = pads[i] + pads[i + r];
        if (extra === 0) return d;
        if (typeof d !== "number") throw new ShapeError(`cannot pad symbolic dim ${d}; bind dims first`);
        return d + extra;
      });
      return [{ dtype: x.dtype, shape }];
    },
    eval: ([x], c) => {
      const pads = c.attrs.pads as number[];
      const r = x.shape.length;
      const shape = x.shape.map((d, i) => d + pads[i] + pads[i + r]);
      const os = stridesOf(shape);
      const base = pads.slice(0, r).reduce((acc, p, i) => acc + p * os[i], 0);
      const offs = bcastOffsetsStrided([...x.shape], os);
      return c.out(shape, (o) => {
        o.fill(c.attrs.value as number);
        for (let i = 0; i < x.data.length; i++) o[base + offs[i]] = x.data[i];
      });
    },
    onnx: (e, n, x, outs) =>
      e.emit("Pad", [x[0], e.i64(n.attrs.pads as number[]), e.floatConst(n.attrs.value as number, n.inputs[0].dtype)], outs, [
        e.attr("mode", "constant", "string"),
      ]),
    grad: ({ g, x, gy, node }) => {
      const pads = node.attrs.pads as number[];
      const r = x[0].rank;
      const axes = [...Array(r).keys()].filter((i) => pads[i] || pads[i + r]);
      if (!axes.length) return [gy[0]];
      return [
        g.slice(
          gy[0]!,
          axes.map((i) => pads[i]),
          axes.map((i) => (pads[i + r] ? -pads[i + r] : END)),
          axes,
        ),
      ];
    },
  },
  Concat: {
    cost: "free",
    shape: (ins, a) => {
      sameDtype(ins);
      const ax = a.axis as number;
      const r = ins[0].rank;
      for (const t of ins) {
        if (t.rank !== r) throw new ShapeError(`rank mismatch ${ins.map(String).join(", ")}`);
        t.shape.forEach((d, i) => {
          if (i !== ax && !dimEq(d, ins[0].shape[i])) throw new ShapeError(`shapes differ off axis ${ax}: ${ins.map(String).join(", ")}`);
        });
      }
      const shape = [...ins[0].shape];
      shape[ax] = dimSum(ins.map((t) => t.shape[ax]));
      return [{ dtype: ins[0].dtype, shape }];
    },
    eval: (ins, c) => {
      const ax = c.attrs.axis as number;
      const shape = [...ins[0].shape];
      shape[ax] = ins.reduce((s, v) => s + v.shape[ax], 0);
      const outer = size(shape.slice(0, ax));
      const inner = size(shape.slice(ax + 1));
      return c.out(shape, (o) => {
        let off = 0;
        for (let p = 0; p < outer; p++)
          for (const v of ins) {
            const blk = v.shape[ax] * inner;
            o.set(v.data.subarray(p * blk, (p + 1) * blk), off);
            off += blk;
          }
      });
    },
    onnx: (e, n, x, outs) => e.emit("Concat", x, outs, [e.attr("axis", n.attrs.axis as number, "int")]),
    grad: ({ g, x, gy, node }) => {
      const ax = node.attrs.axis as number;
      const sizes = x.map((t) => t.shape[ax]);
      if (sizes.every((d) => typeof d === "number")) return g.split(gy[0]!, sizes as number[], ax);
      let off = 0;
      return x.map((t, i) => {
        const d = t.shape[ax];
        if (typeof d !== "number" && i !== x.length - 1)
          throw new GraphError(`Concat gradient: symbolic size ${d} not last on axis ${ax}; bind dims`);
        const s = off;
        off += typeof d === "number" ? d : 0;
        return g.slice(gy[0]!, [s], [typeof d === "number" ? s + d : END], [ax]);
      });
    },
  },
  Split: {
    cost: "free",
    shape: ([x], a) =>
      (a.split as number[]).map((n) => {
        const s = [...x.shape];
        s[a.axis as number] = n;
        return { dtype: x.dtype, shape: s };
      }),
    eval: ([x], c) => {
      const ax = c.attrs.axis as number;
      const outer = size(x.shape.slice(0, ax));
      const inner = size(x.shape.slice(ax + 1));
      const L = x.shape[ax];
      let start = 0;
      return (c.attrs.split as number[]).map((n, k) => {
        const [part] = c.out(
          x.shape.map((d, i) => (i === ax ? n : d)),
          (o) => {
            for (let p = 0; p < outer; p++) o.set(x.data.subarray((p * L + start) * inner, (p * L + start + n) * inner), p * n * inner);
          },
          k,
        );
        start += n;
        return part;
      });
    },
    onnx: (e, n, x, outs) =>
      e.emit("Split", [x[0], e.i64(n.attrs.split as number[])], outs, [e.attr("axis", n.attrs.axis as number, "int")]),
    grad: ({ g, y, gy, node }) => {
      const parts = y.map((t, i) => gy[i] ?? g.zerosLike(t));
      return [g.concat(parts, node.attrs.axis as number)];
    },
  },
} satisfies Record<string, OpDef>;
