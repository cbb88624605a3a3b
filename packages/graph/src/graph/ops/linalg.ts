/** Matrix products and the normalisations computed in one kernel. */
import type { Tensor } from "./op.ts";
import { ShapeError, broadcastShapes, dimEq } from "../shape.ts";
import { floatOnly, sameDtype } from "./elementwise.ts";
import { transposeLast2, unbroadcast } from "./gradients.ts";
import { type OpDef, sameOnnx } from "./op.ts";
import { bcastOffsets, bshape, size } from "./values.ts";

export const LINALG_OPS = {
  MatMul: {
    cost: "matmul",
    shape: (ins) => {
      const [a, b] = ins;
      sameDtype(ins);
      if (a.rank < 2 || b.rank < 2) throw new ShapeError(`needs rank >= 2 operands (unsqueeze vectors), got ${a} and ${b}`);
      const k1 = a.shape[a.rank - 1];
      const k2 = b.shape[b.rank - 2];
      if (!dimEq(k1, k2)) throw new ShapeError(`inner dims differ: ${a} @ ${b}`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }];
    },
    eval: ([a, b], c) => {
      const M = a.shape[a.shape.length - 2];
      const K = a.shape[a.shape.length - 1];
      const N = b.shape[b.shape.length - 1];
      const batch = bshape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const ba = bcastOffsets(a.shape.slice(0, -2), batch);
      const bb = bcastOffsets(b.shape.slice(0, -2), batch);
      const nb = size(batch);
      return c.out([...batch, M, N], (o) => {
        const acc = new Float64Array(N);
        for (let q = 0; q < nb; q++) {
          const ao = ba[q] * M * K;
          const bo = bb[q] * K * N;
          for (let i = 0; i < M; i++) {
            acc.fill(0);
            for (let k = 0; k < K; k++) {
              const av = a.data[ao + i * K + k];
              const row = bo + k * N;
              for (let j = 0; j < N; j++) acc[j] += av * b.data[row + j];
            }
            o.set(acc, (q * M + i) * N);
          }
        }
      });
    },
    onnx: sameOnnx,
    grad: ({ g, x, gy, needs }) => {
      const [a, b] = x;
      const G = gy[0]!;
      let ga: Tensor | undefined;
      let gb: Tensor | undefined;
      if (needs[0]) {
        if (b.rank === 2 && a.rank >= 2 && a.dtype !== "float16") {
          // rows @ weight: [B*T, N] @ [K, N]ᵀ with the weight's transpose read in place (no
          // Transpose kernel per step, even for a frozen weight), viewed back as a's shape. Not in
          // fp16: onnxruntime's fp16 Gemm overflowed on loss-scaled gradients where MatMul did not
          // (wasm; mixed-precision.test.ts skipped steps)
          const g2 = G.rank === 2 ? G : g.reshape(G, [-1, G.shape[G.rank - 1]]);
          ga = g.reshapeLike(g.gemm(g2, b, { transB: true }), a);
        } else ga = unbroadcast(g, g.matmul(G, transposeLast2(g, b)), a);
      }
      if (needs[1]) {
        if (b.rank === 2 && a.rank >= 2) {
          // weight gradient as one large product, [B*T, K]ᵀ @ [B*T, N], the transpose read in place
          const a2 = a.rank === 2 ? a : g.reshape(a, [-1, a.shape[a.rank - 1]]);
          const g2 = G.rank === 2 ? G : g.reshape(G, [-1, G.shape[G.rank - 1]]);
          gb = g.gemm(a2, g2, { transA: true });
        } else gb = unbroadcast(g, g.matmul(transposeLast2(g, a), G), b);
      }
      return [ga, gb];
    },
  },
  /** 2-D matrix product with optional transposes: alpha op(A) @ op(B) (+ C, broadcast to the result). */
  Gemm: {
    cost: "matmul",
    shape: (ins, a) => {
      const [x, y, c] = ins;
      sameDtype(ins);
      if (x.rank !== 2 || y.rank !== 2) throw new ShapeError(`needs 2-D operands, got ${x} and ${y}`);
      const [m, k1] = a.transA ? [x.shape[1], x.shape[0]] : x.shape;
      const [k2, n] = a.transB ? [y.shape[1], y.shape[0]] : y.shape;
      if (!dimEq(k1, k2)) throw new ShapeError(`inner dims differ: ${x}${a.transA ? "ᵀ" : ""} @ ${y}${a.transB ? "ᵀ" : ""}`);
      if (c) {
        const b = broadcastShapes(c.shape, [m, n]);
        if (c.rank > 2 || !dimEq(b[0], m) || !dimEq(b[1], n)) throw new ShapeError(`C ${c} does not broadcast to [${m}, ${n}]`);
      }
      return [{ dtype: x.dtype, shape: [m, n] }];
    },
    eval: ([a, b, c], ctx) => {
      const tA = ctx.attrs.transA === 1;
      const tB = ctx.attrs.transB === 1;
      const [M, K] = tA ? [a.shape[1], a.shape[0]] : a.shape;
      const N = tB ? b.shape[0] : b.shape[1];
      const at = (i: number, k: number) => a.data[tA ? k * M + i : i * K + k];
      const bt = (k: number, j: number) => b.data[tB ? j * K + k : k * N + j];
      const alpha = (ctx.attrs.alpha as number | undefined) ?? 1;
      const cOff = c ? bcastOffsets(c.shape, [M, N]) : undefined;
      return ctx.out([M, N], (o) => {
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let acc = 0;
            for (let k = 0; k < K; k++) acc += at(i, k) * bt(k, j);
            o[i * N + j] = alpha * acc + (c ? Number(c.data[cOff![i * N + j]]) : 0);
          }
      });
    },
    onnx: (e, n, x, outs) => {
      const a = n.attrs;
      const at = [e.attr("transA", a.transA as number, "int"), e.attr("transB", a.transB as number, "int")];
      if (a.alpha !== undefined) at.push(e.attr("alpha", a.alpha as number, "float"));
      e.emit("Gemm", x, outs, at);
    },
    grad: ({ g, x, gy, node, needs }) => {
      // Y = α op(A) op(B) + C: d op(A) = α G op(B)ᵀ, d op(B) = α op(A)ᵀ G, each transposed back if
      // op transposes; dC = G summed over C's broadcast axes
      const [a, b, c] = x;
      const G = gy[0]!;
      const tA = node.attrs.transA === 1;
      const tB = node.attrs.transB === 1;
      const alpha = (node.attrs.alpha as number | undefined) ?? 1;
      return [
        needs[0] ? (tA ? g.gemm(b, G, { transA: tB, transB: true, alpha }) : g.gemm(G, b, { transB: !tB, alpha })) : undefined,
        needs[1] ? (tB ? g.gemm(G, a, { transA: true, transB: tA, alpha }) : g.gemm(a, G, { transA: !tA, alpha })) : undefined,
        c && needs[2] ? unbroadcast(g, G, c) : undefined,
      ];
    },
  },
  Softmax: {
    cost: "per-input",
    shape: (ins) => (floatOnly(ins[0]), [{ dtype: ins[0].dtype, shape: ins[0].shape }]),
    eval: ([x], c) => {
      const ax = c.attrs.axis as number;
      const L = x.shape[ax];
      const inner = size(x.shape.slice(ax + 1));
      const outer = size(x.shape.slice(0, ax));
      return c.out(x.shape, (o) => {
        for (let p = 0; p < outer; p++)
          for (let q = 0; q < inner; q++) {
            const base = p * L * inner + q;
            let m = -Infinity;
            for (let l = 0; l < L; l++) m = Math.max(m, x.data[base + l * inner]);
            let s = 0;
            for (let l = 0; l < L; l++) s += Math.exp(x.data[base + l * inner] - m);
            for (let l = 0; l < L; l++) o[base + l * inner] = Math.exp(x.data[base + l * inner] - m) / s;
          }
      });
    },
    onnx: (e, n, x, outs) => e.emit("Softmax", x, outs, [e.attr("axis", n.attrs.axis as number, "int")]),
    grad: ({ g, y, gy, node }) => {
      const ax = node.attrs.axis as number;
      const Y = y[0];
      const G = gy[0]!;
      return [g.mul(Y, g.sub(G, g.reduceSum(g.mul(G, Y), ax, true)))];
    },
  },
  /** RMSNorm over the last axis: x / sqrt(mean(x²) + epsilon) * weight (ORT's contrib op). */
  SimplifiedLayerNormalization: {
    shape: (ins) => {
      const [x, w] = ins;
      floatOnly(x);
      sameDtype(ins);
      if (w.rank !== 1 || !dimEq(w.shape[0], x.shape[x.rank - 1])) throw new ShapeError(`weight ${w} must be [last dim of ${x}]`);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    eval: ([x, w], c) => {
      const D = x.shape[x.shape.length - 1];
      const eps = c.attrs.epsilon as number;
      return c.out(x.shape, (o) => {
        for (let r = 0; r < x.data.length / D; r++) {
          let ss = 0;
          for (let i = 0; i < D; i++) ss += x.data[r * D + i] ** 2;
          const inv = 1 / Math.sqrt(ss / D + eps);
          for (let i = 0; i < D; i++) o[r * D + i] = x.data[r * D + i] * inv * w.data[i];
        }
      });
    },
    // ORT's contrib op, registered in the default domain; only the first output (y) is used:
    // WebGPU's inv_std_var output does not match the CPU EP's (ORT 1.30)
    onnx: (e, n, x, outs) => e.emit(n.op, x, outs, [e.attr("axis", -1, "int"), e.attr("epsilon", n.attrs.epsilon as number, "float")]),
    grad: ({ g, x, gy, node, needs }) => {
      // y = x̂ w with x̂ = x r, r = (mean(x²) + eps)^-1/2 per row: dx = r (gx̂ - x̂ mean(gx̂ x̂)),
      // gx̂ = gy w; r is recomputed here (the WebGPU EP's inv_std_var output is not usable)
      const [X, W] = x;
      const G = gy[0]!;
      const r = g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(X, X), -1, true), node.attrs.epsilon as number)));
      const xhat = g.mul(X, r);
      let gx: Tensor | undefined;
      if (needs[0]) {
        const gxhat = g.mul(G, W);
        gx = g.mul(g.sub(gxhat, g.mul(xhat, g.reduceMean(g.mul(gxhat, xhat), -1, true))), r);
      }
      return [gx, needs[1] ? unbroadcast(g, g.mul(G, xhat), W) : undefined];
    },
  },
} satisfies Record<string, OpDef>;
