/**
 * An independent float64 forward pass of a Llama/Qwen2 decoder, written as plainly as the
 * transformers modeling code reads (HF weight layout [out, in], repeat_kv, rotate_half, causal
 * softmax, SwiGLU), used to check the graph's summed log-probs. It shares nothing with
 * src/model/decoder.ts except the config type.
 */
import { f16ToF32 } from "@iopo/graph";
import type { DecoderConfig } from "../src/model/config.ts";

type Fp32Weights = Record<string, { shape: number[]; data: Float32Array }>;
/** HF names and layout; a 16-bit checkpoint's weights as fp16 bits (Uint16Array). */
export type HfWeights = Record<string, { shape: number[]; data: Float32Array | Uint16Array }>;

const widened = (w: HfWeights): Fp32Weights =>
  Object.fromEntries(
    Object.entries(w).map(([k, t]) => [
      k,
      { shape: t.shape, data: t.data instanceof Uint16Array ? Float32Array.from(t.data, f16ToF32) : t.data },
    ]),
  );

/** y[o] = sum_i W[o, i] x[i] (+ b[o]); W in HF layout [out, in]. */
function linear(x: Float64Array, w: { shape: number[]; data: Float32Array }, b?: { data: Float32Array }): Float64Array {
  const [out, inp] = w.shape;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b.data[o] : 0;
    for (let i = 0; i < inp; i++) s += w.data[o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  ms /= x.length;
  const r = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * r * w[i]);
}

function invFreq(c: DecoderConfig): number[] {
  const hd = c.headDim;
  const base = Array.from({ length: hd / 2 }, (_, i) => 1 / c.ropeTheta ** ((2 * i) / hd));
  const s = c.ropeScaling;
  if (s.type === "linear") return base.map((f) => f / s.factor!);
  if (s.type === "llama3") {
    const low = s.originalMaxPositionEmbeddings! / s.lowFreqFactor!;
    const high = s.originalMaxPositionEmbeddings! / s.highFreqFactor!;
    return base.map((f) => {
      const wl = (2 * Math.PI) / f;
      if (wl < high) return f;
      if (wl > low) return f / s.factor!;
      const smooth = (s.originalMaxPositionEmbeddings! / wl - s.lowFreqFactor!) / (s.highFreqFactor! - s.lowFreqFactor!);
      return (1 - smooth) * (f / s.factor!) + smooth * f;
    });
  }
  return base;
}

/** Apply rotary embedding to one head vector at position `pos` (rotate_half convention). */
function rope(v: Float64Array, pos: number, freqs: number[]): Float64Array {
  const half = v.length / 2;
  const out = new Float64Array(v.length);
  for (let i = 0; i < half; i++) {
    const a = pos * freqs[i];
    const c = Math.cos(a);
    const s = Math.sin(a);
    out[i] = v[i] * c - v[i + half] * s;
    out[i + half] = v[i + half] * c + v[i] * s;
  }
  return out;
}

/** Logits [T][V] for one unpadded sequence. */
export function referenceLogits(c: DecoderConfig, hf: HfWeights, ids: number[]): Float64Array[] {
  const w = widened(hf);
  const T = ids.length;
  const D = c.hiddenSize;
  const hd = c.headDim;
  const freqs = invFreq(c);
  const emb = w["model.embed_tokens.weight"];
  let x: Float64Array[] = ids.map((id) => Float64Array.from(emb.data.subarray(id * D, (id + 1) * D)));
  for (let l = 0; l < c.numLayers; l++) {
    const p = (n: string) => w[`model.layers.${l}.${n}`];
    const h = x.map((v) => rmsNorm(v, p("input_layernorm.weight").data, c.rmsNormEps));
    const q = h.map((v) => linear(v, p("self_attn.q_proj.weight"), p("self_attn.q_proj.bias")));
    const k = h.map((v) => linear(v, p("self_attn.k_proj.weight"), p("self_attn.k_proj.bias")));
    const vv = h.map((v) => linear(v, p("self_attn.v_proj.weight"), p("self_attn.v_proj.bias")));
    const head = (vec: Float64Array, hIdx: number) => vec.subarray(hIdx * hd, (hIdx + 1) * hd);
    const attn = x.map(() => new Float64Array(c.numHeads * hd));
    const group = c.numHeads / c.numKvHeads;
    for (let hIdx = 0; hIdx < c.numHeads; hIdx++) {
      const kvIdx = Math.floor(hIdx / group); // repeat_kv
      for (let t = 0; t < T; t++) {
        const qt = rope(Float64Array.from(head(q[t], hIdx)), t, freqs);
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          const ks = rope(Float64Array.from(head(k[s], kvIdx)), s, freqs);
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qt[i] * ks[i];
          scores.push(dot / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) {
          const vs = head(vv[s], kvIdx);
          for (let i = 0; i < hd; i++) attn[t][hIdx * hd + i] += (e[s] / z) * vs[i];
        }
      }
    }
    x = x.map((v, t) => {
      const o = linear(attn[t], p("self_attn.o_proj.weight"), p("self_attn.o_proj.bias"));
      return v.map((a, i) => a + o[i]);
    });
    x = x.map((v) => {
      const h2 = rmsNorm(v, p("post_attention_layernorm.weight").data, c.rmsNormEps);
      const g = linear(h2, p("mlp.gate_proj.weight"));
      const u = linear(h2, p("mlp.up_proj.weight"));
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const d = linear(a, p("mlp.down_proj.weight"));
      return v.map((b, i) => b + d[i]);
    });
  }
  const head = c.tieWordEmbeddings ? emb : w["lm_head.weight"];
  return x.map((v) => linear(rmsNorm(v, w["model.norm.weight"].data, c.rmsNormEps), head));
}

/** Summed log-probs of the response tokens (positions promptLen..end), float64. */
export function referenceSequenceLogprob(c: DecoderConfig, w: HfWeights, prompt: number[], response: number[]): number {
  const ids = [...prompt, ...response];
  const logits = referenceLogits(c, w, ids);
  let total = 0;
  for (let t = Math.max(prompt.length, 1); t < ids.length; t++) {
    const row = logits[t - 1];
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    total += row[ids[t]] - m - Math.log(z);
  }
  return total;
}
