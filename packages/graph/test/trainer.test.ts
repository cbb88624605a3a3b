import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmEngine } from "../src/engine/ort.ts";
import { ReferenceEngine } from "../src/engine/reference.ts";
import type { Engine } from "../src/engine/types.ts";
import { grad } from "../src/graph/autodiff.ts";
import { Graph } from "../src/graph/graph.ts";
import { evaluate } from "../src/graph/interpreter.ts";
import { adamwHyperInputs, adamwHyperValues, adamwUpdate, clipByGlobalNorm, scheduleMultiplier } from "../src/optim/adamw.ts";
import { mlp } from "../src/toy-models.ts";
import { Trainer } from "../src/trainer.ts";
import { TRAINER_MODELS, mlpBatch, runTrainerSteps } from "./trainer-helpers.ts";

let wasm: Engine;
const ref = new ReferenceEngine("float64");
beforeAll(async () => {
  wasm = await createWasmEngine();
});
afterAll(async () => wasm?.close());

describe("AdamW graph = torch.optim.AdamW (hand-written float64 loop)", () => {
  it("matches the PyTorch update rule over several steps", () => {
    const [b1, b2] = [0.9, 0.999];
    const eps = 1e-8;
    const wd = 0.1;
    const g = new Graph();
    const p = g.input("p", "float64", [3]);
    const gr = g.input("g", "float64", [3]);
    const m = g.input("m", "float64", [3]);
    const v = g.input("v", "float64", [3]);
    const h = {
      lr: g.input("lr", "float64", []),
      bc1: g.input("bc1", "float64", []),
      bc2sqrt: g.input("bc2sqrt", "float64", []),
    };
    const u = adamwUpdate(g, p, gr, m, v, h, { betas: [b1, b2], eps, weightDecay: wd });
    // torch: p.mul_(1 - lr*wd); m.lerp_(g, 1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2);
    //        denom = (v.sqrt() / sqrt(bc2)).add_(eps); p.addcdiv_(m, denom, value=-lr/bc1)
    let P = [0.5, -1, 2];
    let M = [0, 0, 0];
    let V = [0, 0, 0];
    let Pg = P.slice();
    let Mg = M.slice();
    let Vg = V.slice();
    for (let t = 1; t <= 4; t++) {
      const G = [0.1 * t, -0.3, 1e-4];
      const lr = 0.01 * t;
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      P = P.map((x) => x * (1 - lr * wd));
      M = M.map((x, i) => x + (G[i] - x) * (1 - b1));
      V = V.map((x, i) => x * b2 + (1 - b2) * G[i] * G[i]);
      P = P.map((x, i) => x - (lr / bc1) * (M[i] / (Math.sqrt(V[i]) / Math.sqrt(bc2) + eps)));
      const hv = adamwHyperValues(lr, t, [b1, b2]);
      const [np, nm, nv] = evaluate([u.p, u.m, u.v], {
        feeds: { p: Pg, g: G, m: Mg, v: Vg, lr: [lr], bc1: [hv["opt.bc1"]], bc2sqrt: [hv["opt.bc2sqrt"]] },
      });
      Pg = Array.from(np.data);
      Mg = Array.from(nm.data);
      Vg = Array.from(nv.data);
      Pg.forEach((x, i) => expect(x).toBeCloseTo(P[i], 14));
    }
    expect(adamwHyperInputs(new Graph()).lr.name).toBe("opt.lr");
  });

  it("global-norm clipping follows clip_grad_norm_ (coef = min(1, max/(norm+1e-6))); 0 disables", () => {
    const g = new Graph();
    const a = g.input("a", "float64", [2]);
    const b = g.input("b", "float64", [1]);
    const c = clipByGlobalNorm(g, [a, b], 1);
    const off = clipByGlobalNorm(g, [a, b], 0);
    const [n, ca, cb, oa] = evaluate([c.norm, ...c.grads, off.grads[0]], { feeds: { a: [3, 0], b: [4] } });
    expect(n.data[0]).toBeCloseTo(5, 12);
    const coef = 1 / (5 + 1e-6);
    expect(ca.data[0]).toBeCloseTo(3 * coef, 12);
    expect(cb.data[0]).toBeCloseTo(4 * coef, 12);
    expect(Array.from(oa.data)).toEqual([3, 0]);
  });

  it("schedules: warmup, linear, cosine (HF semantics)", () => {
    const cos = { type: "cosine", warmupSteps: 10, totalSteps: 110 } as const;
    expect(scheduleMultiplier(cos, 0)).toBe(0);
    expect(scheduleMultiplier(cos, 5)).toBe(0.5);
    expect(scheduleMultiplier(cos, 10)).toBe(1);
    expect(scheduleMultiplier(cos, 60)).toBeCloseTo(0.5, 12);
    expect(scheduleMultiplier(cos, 110)).toBeCloseTo(0, 12);
    expect(scheduleMultiplier({ type: "linear", totalSteps: 10 }, 5)).toBe(0.5);
    expect(scheduleMultiplier(undefined, 7)).toBe(1);
  });
});

describe("Trainer update semantics", () => {
  it("equals PyTorch AdamW + clip_grad_norm_ + decay masks + schedule, computed on the host (float64)", async () => {
    const model = mlp({ batch: "B", inDim: 4, hidden: 5, classes: 3, seed: 4 });
    const cfg = {
      lr: 0.05,
      weightDecay: 0.2,
      clipGradNorm: 0.3,
      betas: [0.8, 0.95] as [number, number],
      eps: 1e-6,
      schedule: { type: "linear" as const, warmupSteps: 1, totalSteps: 5 },
    };
    // small buckets: the flat optimizer state is split over several buckets
    const tr = await Trainer.create({ engine: ref, model, ...cfg, optimizerBucketElements: 20 });
    expect(tr.buckets.length).toBeGreaterThan(1);
    const g = new Graph();
    const out = model(g);
    const ps = g.params;
    const gs = grad(out.loss, ps);
    const P = ps.map((p) => Float64Array.from(p.data as Float32Array));
    const M = ps.map((p) => new Float64Array(p.data!.length));
    const V = ps.map((p) => new Float64Array(p.data!.length));
    const [b1, b2] = cfg.betas;
    for (let t = 1; t <= 4; t++) {
      const batch = mlpBatch(t, 6);
      const feeds = {
        x: { dtype: "float32" as const, shape: batch.x.shape, data: Float64Array.from(batch.x.data as Float32Array) },
        y: { dtype: "int32" as const, shape: batch.y.shape, data: Float64Array.from(batch.y.data as Int32Array) },
      };
      const params = Object.fromEntries(ps.map((p, i) => [p.name!, { dtype: "float32" as const, shape: p.shape as number[], data: P[i] }]));
      const G = evaluate(gs, { feeds, params }).map((v) => Float64Array.from(v.data));
      const norm = Math.sqrt(G.reduce((s, a) => s + a.reduce((q, x) => q + x * x, 0), 0));
      const coef = Math.min(1, cfg.clipGradNorm / (norm + 1e-6));
      const lr = cfg.lr * scheduleMultiplier(cfg.schedule, t - 1);
      ps.forEach((p, i) => {
        const wd = p.decay ? cfg.weightDecay : 0;
        for (let j = 0; j < P[i].length; j++) {
          const gj = G[i][j] * coef;
          P[i][j] *= 1 - lr * wd;
          M[i][j] = b1 * M[i][j] + (1 - b1) * gj;
          V[i][j] = b2 * V[i][j] + (1 - b2) * gj * gj;
          P[i][j] -= (lr / (1 - b1 ** t)) * (M[i][j] / (Math.sqrt(V[i][j]) / Math.sqrt(1 - b2 ** t) + cfg.eps));
        }
      });
      const m = await tr.step(batch);
      expect(m.gradNorm).toBeCloseTo(norm, 6);
      expect(m.lr).toBeCloseTo(lr, 12);
    }
    const got = await tr.getParams();
    ps.forEach((p, i) => {
      const d = Math.max(...Array.from(P[i], (x, j) => Math.abs(x - Number(got[p.name!].data[j]))));
      expect(d, p.name).toBeLessThan(1e-6);
    });
    await tr.dispose();
  });
});

describe("Trainer: wasm equals the float64 interpreter; loss decreases", () => {
  for (const [name, spec] of Object.entries(TRAINER_MODELS)) {
    it(`${name}: ${spec.batches.length} steps identical within 1e-5`, async () => {
      const a = await runTrainerSteps(ref, spec);
      const b = await runTrainerSteps(wasm, spec);
      a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
      a.gradNorms.forEach((l, i) => expect(Math.abs(l - b.gradNorms[i]), `grad norm ${i}`).toBeLessThan(1e-5));
      expect(a.maxParamDiff(b)).toBeLessThan(1e-5);
      expect(b.losses[b.losses.length - 1]).toBeLessThan(b.losses[0]);
    });
  }

  it("a longer MLP run learns (loss drops, accuracy rises)", async () => {
    const tr = await Trainer.create({ engine: wasm, model: mlp({ batch: "B", inDim: 4, hidden: 16, classes: 3 }), lr: 3e-2 });
    const first = await tr.evaluate(mlpBatch(99, 64));
    for (let s = 0; s < 60; s++) await tr.step(mlpBatch(s, 32));
    const last = await tr.evaluate(mlpBatch(99, 64));
    expect(last.loss).toBeLessThan(first.loss * 0.6);
    expect(last.accuracy).toBeGreaterThan(0.8);
    await tr.dispose();
  });

  it("gradient accumulation: 4 micro-batches of 2 = one batch of 8", async () => {
    const spec = TRAINER_MODELS.mlp;
    const full = spec.batches.map((b) => [b[0]]);
    const micro = spec.batches.map((b) => {
      const x = b[0].x.data as Float32Array;
      const y = b[0].y.data as Int32Array;
      return [0, 1, 2, 3].map((k) => ({
        x: { dtype: "float32" as const, shape: [2, 4], data: x.slice(k * 8, k * 8 + 8) },
        y: { dtype: "int32" as const, shape: [2], data: y.slice(k * 2, k * 2 + 2) },
      }));
    });
    for (const engine of [ref, wasm]) {
      const a = await runTrainerSteps(engine, { ...spec, batches: full });
      const b = await runTrainerSteps(engine, { ...spec, batches: micro }, { gradAccumulation: 4 });
      const tol = engine === ref ? 1e-7 : 1e-5; // reference results are rounded to fp32 on download
      expect(a.maxParamDiff(b), engine.description).toBeLessThan(tol);
      a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(tol));
      a.gradNorms.forEach((l, i) => expect(Math.abs(l - b.gradNorms[i])).toBeLessThan(tol));
    }
  });

  it("weight decay skips vectors; lr schedule is applied per step; state round-trips", async () => {
    const lrs: number[] = [];
    const tr = await Trainer.create({
      engine: ref,
      model: mlp({ batch: "B", inDim: 4, hidden: 4, classes: 3 }),
      lr: 0.1,
      weightDecay: 0.5,
      schedule: { type: "linear", warmupSteps: 2, totalSteps: 4 },
    });
    expect(tr.graph.params.map((p) => `${p.name}:${p.decay}`)).toEqual(["w1:true", "b1:false", "w2:true", "b2:false"]);
    for (let s = 0; s < 4; s++) lrs.push((await tr.step(mlpBatch(s, 4))).lr);
    expect(lrs).toEqual([0, 0.05, 0.1, 0.05]);
    const st = await tr.getState();
    expect(Object.keys(st.tensors)).toContain("adam.v.b0");
    const m1 = await tr.evaluate(mlpBatch(5, 8));
    await tr.setState(st);
    expect(await tr.evaluate(mlpBatch(5, 8))).toEqual(m1);
    await tr.dispose();
  });

  it("symbolic dims can be bound for static sessions (TrainerConfig.dims)", async () => {
    const spec = TRAINER_MODELS.attention;
    const a = await runTrainerSteps(wasm, spec);
    const b = await runTrainerSteps(wasm, spec, { dims: { B: 2, T: 5 } });
    expect(a.maxParamDiff(b)).toBeLessThan(1e-6);
    expect(b.losses[0]).toBeCloseTo(a.losses[0], 6);
  });

  it("forward() returns extra outputs (per-row log-probs) with the current params", async () => {
    const tr = await Trainer.create({
      engine: wasm,
      model: (g) => {
        const model = mlp({ batch: "B", inDim: 4, hidden: 8, classes: 3 })(g);
        return { ...model, outputs: { rowLoss: g.neg(model.loss) } };
      },
    });
    const b = mlpBatch(3, 6);
    const f = await tr.forward(b);
    expect(Object.keys(f).sort()).toEqual(["accuracy", "loss", "rowLoss"]);
    expect(f.rowLoss.data[0]).toBeCloseTo(-Number(f.loss.data[0]), 6);
    expect((await tr.evaluate(b)).loss).toBeCloseTo(Number(f.loss.data[0]), 6);
    await tr.dispose();
  });

  it("rejects malformed batches with clear errors", async () => {
    const tr = await Trainer.create({ engine: ref, model: mlp({ batch: "B", inDim: 4, hidden: 4, classes: 3 }) });
    const b = mlpBatch(1, 4);
    await expect(tr.step({ x: b.x })).rejects.toThrow(/missing input "y"/);
    await expect(tr.step({ ...b, y: { ...b.y, dtype: "int64", data: new BigInt64Array(4) } })).rejects.toThrow(/dtype int64/);
    await expect(tr.step({ ...b, x: { ...b.x, shape: [4, 5] } })).rejects.toThrow(/shape \[4,5\]/);
    await expect(tr.step([b, b])).rejects.toThrow(/expected 1 micro-batch/);
  });
});
