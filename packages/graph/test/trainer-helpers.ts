import type { Engine, HostTensor } from "../src/engine/types.ts";
import { lcg, mlp, tinyLM } from "../src/toy-models.ts";
import { type Batch, type ModelFn, Trainer, type TrainerConfig, tensor } from "../src/trainer.ts";

export interface TrainerSpec {
  model: ModelFn;
  batches: Batch[][]; // one entry per step: its micro-batches
  config: Partial<TrainerConfig>;
}

export function mlpBatch(seed: number, B: number): Batch {
  const r = lcg(seed);
  const x = Array.from({ length: B * 4 }, () => r() * 2 - 1);
  const y = Array.from({ length: B }, (_, i) => (x[i * 4] + x[i * 4 + 1] > 0 ? 1 : 0) + (x[i * 4 + 2] > 0.3 ? 1 : 0));
  return { x: tensor("float32", [B, 4], x), y: tensor("int32", [B], y) };
}

export function lmBatch(seed: number, B: number, T: number, V: number): Batch {
  const r = lcg(seed);
  const ids = Array.from({ length: B * T }, () => Math.floor(r() * V));
  // next-token labels of a simple rule: label = (id * 3 + 1) mod V
  const labels = ids.map((t) => (t * 3 + 1) % V);
  return { ids: tensor("int32", [B, T], ids), labels: tensor("int32", [B, T], labels) };
}

export const LM = { batch: "B", seq: "T", vocab: 11, dim: 8, heads: 2, hidden: 16, layers: 1, seed: 3 } as const;

export const TRAINER_MODELS: Record<string, TrainerSpec> = {
  mlp: {
    model: mlp({ batch: "B", inDim: 4, hidden: 12, classes: 3, seed: 2 }),
    batches: [1, 2, 3, 4].map((s) => [mlpBatch(s, 8)]),
    config: { lr: 1e-2, weightDecay: 0.01, clipGradNorm: 1 },
  },
  attention: {
    model: tinyLM(LM),
    batches: [1, 2, 3].map(() => [lmBatch(7, 2, 5, LM.vocab)]),
    config: { lr: 1e-2, weightDecay: 0.1, clipGradNorm: 0.5 },
  },
};

export interface TrainerRun {
  losses: number[];
  gradNorms: number[];
  params: Record<string, HostTensor>;
  maxParamDiff(o: TrainerRun): number;
}

export async function runTrainerSteps(engine: Engine, spec: TrainerSpec, extra: Partial<TrainerConfig> = {}): Promise<TrainerRun> {
  const tr = await Trainer.create({ engine, model: spec.model, ...spec.config, ...extra });
  const losses: number[] = [];
  const gradNorms: number[] = [];
  try {
    for (const b of spec.batches) {
      const m = await tr.step(b.length === 1 ? b[0] : b);
      losses.push(m.loss);
      gradNorms.push(m.gradNorm);
    }
    const params = await tr.getParams();
    return {
      losses,
      gradNorms,
      params,
      maxParamDiff(o) {
        let d = 0;
        for (const [k, t] of Object.entries(params)) {
          const u = o.params[k];
          for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u.data[i])));
        }
        return d;
      },
    };
  } finally {
    await tr.dispose();
  }
}
