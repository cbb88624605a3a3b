import { grad } from "../src/graph/autodiff.ts";
import { compile } from "../src/graph/compile.ts";
import { toHost } from "../src/graph/dtype.ts";
import type { Tensor } from "../src/graph/graph.ts";
import { type Value, evaluate } from "../src/graph/interpreter.ts";
import type { Engine, HostTensor } from "../src/engine/types.ts";
import { type Case, makeCase, projectLoss } from "./cases.ts";

/** Outputs of a case for engine checks: the op's output and the gradients of sum(out * R). */
export function caseOutputs(c: Case): Record<string, Tensor> {
  const loss = projectLoss(c);
  const gs = grad(loss, c.wrt);
  const outs: Record<string, Tensor> = { out: c.out, loss };
  gs.forEach((t, i) => (outs[`grad_${c.wrt[i].name}`] = t));
  return outs;
}

export function hostFeeds(feeds: Record<string, Value>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(feeds)) out[k] = { dtype: v.dtype, shape: v.shape, data: toHost(v.dtype, v.data) };
  return out;
}

/** Largest |got - want| scaled by max(1, max |want|) over all outputs. */
export function scaledErr(got: ArrayLike<number | bigint>, want: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(Number(got[i]) - want[i]);
    err = Math.max(err, Number.isNaN(d) ? Infinity : d);
  }
  return err / scale;
}

/** Run a case on an engine and on the float64 interpreter; returns the worst scaled error per output. */
export async function checkCase(engine: Engine, key: string, seed = 1, opset: 17 | 18 = 17): Promise<Record<string, number>> {
  const c = makeCase(key, seed);
  const outs = caseOutputs(c);
  // the interpreter sees fp32-rounded inputs, as the engine does
  const feeds: Record<string, Value> = {};
  for (const [k, v] of Object.entries(c.feeds))
    feeds[k] = v.dtype === "float32" ? { ...v, data: Float64Array.from(Float32Array.from(v.data)) } : v;
  const names = Object.keys(outs);
  const want = evaluate(
    names.map((n) => outs[n]),
    { feeds },
  );
  const model = compile(outs, { opset });
  const s = await engine.createSession(model);
  try {
    const r = await s.run(hostFeeds(feeds), Object.fromEntries(names.map((n) => [n, "host" as const])));
    const errs: Record<string, number> = {};
    names.forEach((n, i) => {
      const got = r.host[n];
      if (got.shape.join() !== want[i].shape.join()) throw new Error(`${key}.${n}: shape [${got.shape}] vs [${want[i].shape}]`);
      errs[n] = scaledErr(got.data, want[i].data);
    });
    return errs;
  } finally {
    await s.release();
  }
}

export { type Maybe, skipBanner, tryEngine } from "../src/testing.ts";
