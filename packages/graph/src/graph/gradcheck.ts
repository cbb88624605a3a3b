/** Gradient checking: autodiff gradients (float64 interpreter) against central finite differences. */
import { grad } from "./autodiff.ts";
import type { Tensor } from "./graph.ts";
import { type Value, evaluate } from "./interpreter.ts";

export interface GradCheckResult {
  name: string;
  maxAbsErr: number;
  /** max |numeric - analytic| / max(0.01, |numeric|, |analytic|). Constants in float32 graphs are
   * rounded to fp32, so expect ~1e-7 here even for exact rules. */
  maxRelErr: number;
  checked: number;
}

export interface GradCheckOptions {
  feeds?: Record<string, Value>;
  eps?: number;
  /** Check at most this many elements per tensor (spread over the tensor). */
  maxElements?: number;
}

/** Compare d loss / d wrt (autodiff) with central differences, all in float64. */
export function gradCheck(loss: Tensor, wrt: Tensor[], opts: GradCheckOptions = {}): GradCheckResult[] {
  const eps = opts.eps ?? 1e-6;
  const maxEl = opts.maxElements ?? 48;
  const feeds: Record<string, Value> = { ...(opts.feeds ?? {}) };
  const params: Record<string, Value> = {};
  for (const p of loss.graph.params) {
    const n = p.data!.length;
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = Number(p.data![i]);
    params[p.name!] = { dtype: p.dtype, shape: p.shape as number[], data };
  }
  const grads = grad(loss, wrt);
  const vals = evaluate([loss, ...grads], { feeds, params });
  const lossAt = () => evaluate([loss], { feeds, params })[0].data[0];
  return wrt.map((w, k) => {
    const src = w.kind === "param" ? params[w.name!] : feeds[w.name!];
    if (!src) throw new Error(`gradCheck: ${w} must be a param or a fed input`);
    const analytic = vals[k + 1].data;
    const n = src.data.length;
    const stride = Math.max(1, Math.floor(n / maxEl));
    let maxAbs = 0;
    let maxRel = 0;
    let checked = 0;
    for (let i = 0; i < n; i += stride) {
      const orig = src.data[i];
      src.data[i] = orig + eps;
      const lp = lossAt();
      src.data[i] = orig - eps;
      const lm = lossAt();
      src.data[i] = orig;
      const num = (lp - lm) / (2 * eps);
      const err = Math.abs(num - analytic[i]);
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / Math.max(1e-2, Math.abs(num), Math.abs(analytic[i])));
      checked++;
    }
    return { name: w.name ?? String(w), maxAbsErr: maxAbs, maxRelErr: maxRel, checked };
  });
}
