/**
 * Trainer: config in, metrics out. Builds the forward + backward + AdamW graphs from a model
 * function, compiles them to ONNX, keeps parameters, optimizer state and gradient accumulators on
 * the engine's device between steps (GPU tensors on both WebGPU engines: ping-ponged into
 * pre-allocated outputs on the web build, new outputs with the replaced ones disposed on
 * onnxruntime-node's) and returns only the loss and metrics each step. Checkpoints and evaluation
 * read the state through the engine (`download`, other sessions), never from a GPU tensor directly.
 *
 * accumulation = 1: one fused session per step (forward, backward, clip, AdamW).
 * accumulation = k: a gradient session run k times (gacc' = gacc + grad, fed zeros first) and an
 * apply session (mean gradient, clip, AdamW).
 */
import { grad } from "./graph/autodiff.ts";
import { type CompileOptions, type CompiledModel, compile } from "./graph/compile.ts";
import { type DType, toHost } from "./graph/dtype.ts";
import { Graph, type Tensor } from "./graph/graph.ts";
import type { Opset } from "./graph/onnx.ts";
import { type Dim, bindShape } from "./graph/shape.ts";
import {
  ADAMW_DEFAULTS,
  type ScheduleConfig,
  adamwFlatUpdate,
  adamwHyperInputs,
  adamwHyperValues,
  clipCoef,
  flatten,
  globalNorm,
  planBuckets,
  scheduleMultiplier,
} from "./optim/adamw.ts";
import type { DeviceTensor, Engine, EngineSession, HostTensor, OutputSpec, ProfileEvent } from "./engine/types.ts";

export interface ModelOutputs {
  loss: Tensor;
  /** Scalar metrics computed in the graph (read back each step, averaged over micro-batches). */
  metrics?: Record<string, Tensor>;
  /** Other tensors (any shape) available through `Trainer.forward` (e.g. per-sequence log-probs). */
  outputs?: Record<string, Tensor>;
}

/** Builds the model into `g`: creates inputs and params, returns the loss. */
export type ModelFn = (g: Graph) => ModelOutputs;

export type Batch = Record<string, HostTensor>;

export interface TrainerConfig {
  engine: Engine;
  model: ModelFn;
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** lr multiplier schedule (HF-style), or a function of the 0-based optimizer step. */
  schedule?: ScheduleConfig | ((step: number) => number);
  /** Micro-batches per optimizer step (default 1). */
  gradAccumulation?: number;
  /** Max global gradient norm; 0 disables clipping (default 1.0, as HF/TRL). */
  clipGradNorm?: number;
  opset?: Opset;
  /** Bind symbolic dims (static-shape sessions). */
  dims?: Record<string, number>;
  /** Graph simplification before emission (default on). */
  optimize?: CompileOptions["optimize"];
  /**
   * Optimizer state is kept as flat per-bucket vectors of at most this many elements (default
   * 2^23 = 32 MiB fp32, under WebGPU's default maxStorageBufferBindingSize of 128 MiB).
   */
  optimizerBucketElements?: number;
  /** Profile the step sessions (ORT's profiler; read with `Trainer.endProfiling`). */
  profile?: boolean;
  /**
   * Dynamic loss scaling for fp16 compute (as torch.cuda.amp.GradScaler): gradients are computed
   * for loss * scale and unscaled in fp32; a step whose gradient norm is not finite changes
   * nothing (params, moments and AdamW's step count stay) and halves the scale; `growthInterval`
   * finite steps in a row double it. Metrics: `loss_scale`, `skipped` (this step),
   * `skipped_total`. Needs gradAccumulation 1.
   */
  lossScaling?: { init?: number; growthInterval?: number };
}

export interface StepMetrics {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  stepMs: number;
  [metric: string]: number;
}

/** A host tensor from plain numbers (int64 becomes BigInt64Array, float16 is rounded). */
export const tensor = (dtype: DType, shape: number[], data: ArrayLike<number>): HostTensor => ({
  dtype,
  shape,
  data: toHost(dtype, data),
});

interface Sessions {
  fused?: EngineSession;
  grad?: EngineSession;
  apply?: EngineSession;
  models: Record<string, CompiledModel>;
}

const UPD = "upd.";
const LOSS_SCALE = "opt.loss_scale";

export class Trainer {
  readonly engine: Engine;
  readonly config: Required<Pick<TrainerConfig, "lr" | "betas" | "eps" | "weightDecay" | "gradAccumulation" | "clipGradNorm">> &
    TrainerConfig;
  /** Optimizer steps taken. */
  steps = 0;
  readonly graph: Graph;
  readonly loss: Tensor;
  readonly metricNames: string[];
  readonly trainable: Tensor[];
  private sessions!: Sessions;
  private state = new Map<string, DeviceTensor>();
  private spare = new Map<string, DeviceTensor>();
  private zeros = new Map<string, DeviceTensor>();
  private evalSession?: EngineSession;
  private inputSpecs: Map<string, { dtype: DType; shape: readonly Dim[] }>;
  private frozen: Tensor[];
  /** Trainable-param indices per optimizer bucket (flat moments per bucket). */
  readonly buckets: number[][];

  private constructor(cfg: TrainerConfig) {
    this.config = {
      ...cfg,
      lr: cfg.lr ?? ADAMW_DEFAULTS.lr,
      betas: cfg.betas ?? ADAMW_DEFAULTS.betas,
      eps: cfg.eps ?? ADAMW_DEFAULTS.eps,
      weightDecay: cfg.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
      gradAccumulation: cfg.gradAccumulation ?? 1,
      clipGradNorm: cfg.clipGradNorm ?? 1.0,
    };
    if (!Number.isInteger(this.config.gradAccumulation) || this.config.gradAccumulation < 1)
      throw new Error(`gradAccumulation must be a positive integer`);
    this.engine = cfg.engine;
    this.graph = new Graph();
    const out = cfg.model(this.graph);
    this.loss = out.loss;
    if (out.loss.rank !== 0) throw new Error(`model loss must be a scalar, got ${out.loss}`);
    this.metrics = out.metrics ?? {};
    this.extraOutputs = out.outputs ?? {};
    const names = ["loss", ...Object.keys(this.metrics), ...Object.keys(this.extraOutputs)];
    if (new Set(names).size !== names.length) throw new Error(`loss, metric and output names must be distinct: ${names}`);
    for (const [k, t] of Object.entries(this.metrics)) if (t.rank !== 0) throw new Error(`metric ${k} must be a scalar, got ${t}`);
    this.metricNames = Object.keys(this.metrics);
    this.trainable = this.graph.params.filter((p) => p.trainable);
    this.frozen = this.graph.params.filter((p) => !p.trainable);
    if (!this.trainable.length) throw new Error("model has no trainable params");
    this.lossScale = cfg.lossScaling?.init ?? 2 ** 16;
    this.buckets = planBuckets(
      this.trainable.map((p) => p.data!.length),
      cfg.optimizerBucketElements ?? 1 << 23,
    );
    this.inputSpecs = new Map(this.graph.inputs.map((t) => [t.name!, { dtype: t.dtype, shape: t.shape }]));
  }
  private metrics: Record<string, Tensor>;
  private extraOutputs: Record<string, Tensor>;
  private forwardSession?: EngineSession;

  static async create(cfg: TrainerConfig): Promise<Trainer> {
    const t = new Trainer(cfg);
    await t.build();
    return t;
  }

  private compileOpts(): CompileOptions {
    // params are inputs (toOnnx's default), uploaded once: one copy shared by the sessions, and no
    // ONNX file over protobuf's 2 GiB (every engine keeps uploaded tensors on its device)
    return { opset: this.config.opset, dims: this.config.dims, optimize: this.config.optimize };
  }

  /**
   * Clip + AdamW outputs for the trainable params (`params`: their values in `g`), given one flat
   * gradient per bucket; `scale` multiplies the gradients first (1/k for accumulation).
   */
  private updateOutputs(g: Graph, params: Tensor[], flatGrads: Tensor[], scale = 1, skipNonFinite = false): Record<string, Tensor> {
    const c = this.config;
    let norm = globalNorm(g, flatGrads);
    // an overflowed step (inf or NaN norm: NaN < inf is false too) keeps every old value
    const finite = skipNonFinite ? g.less(norm, g.scalar(Infinity)) : undefined;
    const keep = (next: Tensor, old: Tensor) => (finite ? g.where(finite, next, old) : next);
    if (scale !== 1) norm = g.mul(norm, scale);
    let coef: Tensor | undefined = c.clipGradNorm > 0 ? clipCoef(g, norm, c.clipGradNorm) : undefined;
    if (scale !== 1) coef = coef ? g.mul(coef, scale) : g.scalar(scale);
    const h = adamwHyperInputs(g);
    const outs: Record<string, Tensor> = { grad_norm: norm };
    this.buckets.forEach((idx, k) => {
      const n = idx.reduce((a, i) => a + this.trainable[i].data!.length, 0);
      const m = g.input(`adam.m.b${k}`, "float32", [n]);
      const v = g.input(`adam.v.b${k}`, "float32", [n]);
      const decay = idx.map((i) => (this.trainable[i].decay ? c.weightDecay : 0));
      const u = adamwFlatUpdate(
        g,
        idx.map((i) => params[i]),
        decay,
        flatGrads[k],
        m,
        v,
        h,
        { betas: c.betas, eps: c.eps },
        coef,
      );
      idx.forEach((i, j) => (outs[`${UPD}${this.trainable[i].name}`] = keep(u.params[j], params[i])));
      outs[`${UPD}adam.m.b${k}`] = keep(u.m, m);
      outs[`${UPD}adam.v.b${k}`] = keep(u.v, v);
    });
    return outs;
  }

  private bucketSize(k: number): number {
    return this.buckets[k].reduce((a, i) => a + this.trainable[i].data!.length, 0);
  }

  private async build() {
    const g = this.graph;
    const scaling = this.config.lossScaling;
    if (scaling && this.config.gradAccumulation !== 1) throw new Error("lossScaling needs gradAccumulation 1");
    const lossScale = scaling ? g.input(LOSS_SCALE, "float32", []) : undefined;
    const grads = grad(this.loss, this.trainable, { seed: lossScale });
    const head: Record<string, Tensor> = { loss: this.loss };
    for (const [k, t] of Object.entries(this.metrics)) head[`metric.${k}`] = t;
    const models: Record<string, CompiledModel> = {};
    const co = this.compileOpts();
    const deviceOutputs = (o: Record<string, Tensor>) => Object.keys(o).filter((k) => k.startsWith(UPD));
    const sessions: Sessions = { models };
    let flatGrads = this.buckets.map((idx) =>
      flatten(
        g,
        idx.map((i) => grads[i]),
      ),
    );
    if (lossScale) flatGrads = flatGrads.map((f) => g.div(f, lossScale));
    if (this.config.gradAccumulation === 1) {
      const outs = { ...head, ...this.updateOutputs(g, this.trainable, flatGrads, 1, !!lossScale) };
      models.fused = compile(outs, co);
      sessions.fused = await this.engine.createSession(models.fused, {
        deviceOutputs: deviceOutputs(outs),
        name: "fused",
        profile: this.config.profile,
      });
    } else {
      const gouts: Record<string, Tensor> = { ...head };
      this.buckets.forEach((_, k) => {
        const acc = g.input(`gacc.b${k}`, "float32", [this.bucketSize(k)]);
        gouts[`${UPD}gacc.b${k}`] = g.add(acc, flatGrads[k]);
      });
      models.grad = compile(gouts, co);
      const g2 = new Graph();
      const ps = this.trainable.map((p) => g2.input(p.name!, p.dtype, p.shape));
      const gaccs = this.buckets.map((_, k) => g2.input(`gacc.b${k}`, "float32", [this.bucketSize(k)]));
      const aouts = this.updateOutputs(g2, ps, gaccs, 1 / this.config.gradAccumulation);
      models.apply = compile(aouts, co);
      sessions.grad = await this.engine.createSession(models.grad, {
        deviceOutputs: deviceOutputs(gouts),
        name: "grad",
        profile: this.config.profile,
      });
      sessions.apply = await this.engine.createSession(models.apply, {
        deviceOutputs: deviceOutputs(aouts),
        name: "apply",
        profile: this.config.profile,
      });
    }
    this.sessions = sessions;

    // device state: params (trainable and frozen), moments, gradient accumulators
    const prealloc = this.engine.preallocatedOutputs;
    const put = async (name: string, t: HostTensor, spare: boolean) => {
      this.state.set(name, await this.engine.upload(t));
      if (spare && prealloc) this.spare.set(name, await this.engine.alloc(t.dtype, t.shape));
    };
    for (const p of this.graph.params) await put(p.name!, { dtype: p.dtype, shape: p.shape as number[], data: p.data! }, p.trainable);
    for (let k = 0; k < this.buckets.length; k++) {
      const n = this.bucketSize(k);
      const z = { dtype: "float32" as const, shape: [n], data: new Float32Array(n) };
      await put(`adam.m.b${k}`, z, true);
      await put(`adam.v.b${k}`, z, true);
      if (this.config.gradAccumulation > 1) {
        this.zeros.set(`gacc.b${k}`, await this.engine.upload(z));
        if (prealloc) {
          this.state.set(`gacc.b${k}`, await this.engine.alloc("float32", [n]));
          this.spare.set(`gacc.b${k}`, await this.engine.alloc("float32", [n]));
        }
      }
    }
  }

  /** The compiled ONNX models (for inspection, export, or FLOP counting). */
  get models(): Record<string, CompiledModel> {
    return this.sessions.models;
  }

  private checkBatch(b: Batch) {
    for (const [name, spec] of this.inputSpecs) {
      const t = b[name];
      if (!t) throw new Error(`batch is missing input "${name}"`);
      if (t.dtype !== spec.dtype) throw new Error(`batch input "${name}": dtype ${t.dtype}, model expects ${spec.dtype}`);
      const want = bindShape(spec.shape, this.config.dims ?? {});
      if (t.shape.length !== want.length || want.some((d, i) => typeof d === "number" && d !== t.shape[i]))
        throw new Error(`batch input "${name}": shape [${t.shape}], model expects [${want}]`);
      const n = t.shape.reduce((s, d) => s * d, 1);
      if (t.data.length !== n) throw new Error(`batch input "${name}": ${t.data.length} values for shape [${t.shape}]`);
    }
  }

  private async runWithState(
    s: EngineSession,
    feeds: Record<string, HostTensor | DeviceTensor>,
    hostOut: string[],
    override: Map<string, DeviceTensor> = new Map(),
  ): Promise<Record<string, HostTensor>> {
    const f: Record<string, HostTensor | DeviceTensor> = {};
    for (const name of s.inputNames) {
      const v = override.get(name) ?? feeds[name] ?? this.state.get(name);
      if (!v) throw new Error(`no value for session input ${name}`);
      f[name] = v;
    }
    const outs: Record<string, OutputSpec> = {};
    for (const n of hostOut) outs[n] = "host";
    const upd = s.outputNames.filter((n) => n.startsWith(UPD));
    for (const n of upd) {
      const key = n.slice(UPD.length);
      outs[n] = this.spare.get(key) ?? "device";
    }
    const r = await s.run(f, outs);
    for (const n of upd) {
      const key = n.slice(UPD.length);
      const old = this.state.get(key);
      this.state.set(key, r.device[n]);
      if (this.spare.has(key)) this.spare.set(key, old!);
      else if (old && old !== this.zeros.get(key) && old !== r.device[n]) this.engine.dispose(old);
    }
    return r.host;
  }

  private hyper(): Record<string, HostTensor> {
    const lr = this.currentLr();
    const v = adamwHyperValues(lr, this.steps - this.skippedSteps + 1, this.config.betas);
    if (this.config.lossScaling) v[LOSS_SCALE] = this.lossScale;
    const out: Record<string, HostTensor> = {};
    for (const [k, x] of Object.entries(v)) out[k] = { dtype: "float32", shape: [], data: Float32Array.of(x) };
    return out;
  }

  /** Steps skipped for a non-finite gradient (loss scaling); AdamW's step count excludes them. */
  skippedSteps = 0;
  /** The current loss scale (loss scaling only). */
  lossScale = 1;
  private finiteRun = 0;

  /** GradScaler's update: halve on overflow, double after growthInterval finite steps. */
  private updateLossScale(finite: boolean) {
    if (!finite) {
      this.lossScale /= 2;
      this.finiteRun = 0;
      this.skippedSteps++;
    } else if (++this.finiteRun >= (this.config.lossScaling?.growthInterval ?? 2000)) {
      this.lossScale *= 2;
      this.finiteRun = 0;
    }
  }

  /** The learning rate the next step will use. */
  currentLr(): number {
    return this.config.lr * scheduleMultiplier(this.config.schedule, this.steps);
  }

  /**
   * One optimizer step. With gradient accumulation k, pass an array of k micro-batches.
   * Returns the mean loss and metrics over micro-batches, the pre-clip gradient norm and the lr.
   */
  async step(batches: Batch | Batch[]): Promise<StepMetrics> {
    const t0 = performance.now();
    const k = this.config.gradAccumulation;
    const list = Array.isArray(batches) ? batches : [batches];
    if (list.length !== k) throw new Error(`expected ${k} micro-batch(es), got ${list.length}`);
    list.forEach((b) => this.checkBatch(b));
    const lr = this.currentLr();
    const heads = ["loss", ...this.metricNames.map((m) => `metric.${m}`)];
    const sums: Record<string, number> = Object.fromEntries(heads.map((h) => [h, 0]));
    let gradNorm: number;
    const s = this.sessions;
    if (s.fused) {
      const r = await this.runWithState(s.fused, { ...list[0], ...this.hyper() }, [...heads, "grad_norm"]);
      for (const h of heads) sums[h] += Number(r[h].data[0]);
      gradNorm = Number(r.grad_norm.data[0]);
    } else {
      for (let i = 0; i < k; i++) {
        const override = i === 0 ? this.zeros : undefined;
        const r = await this.runWithState(s.grad!, list[i], heads, override);
        for (const h of heads) sums[h] += Number(r[h].data[0]);
      }
      const r = await this.runWithState(s.apply!, this.hyper(), ["grad_norm"]);
      gradNorm = Number(r.grad_norm.data[0]);
    }
    this.steps++;
    const m: StepMetrics = { step: this.steps, loss: sums.loss / k, gradNorm, lr, stepMs: performance.now() - t0 };
    for (const name of this.metricNames) m[name] = sums[`metric.${name}`] / k;
    if (this.config.lossScaling) {
      m.loss_scale = this.lossScale;
      this.updateLossScale(Number.isFinite(gradNorm));
      m.skipped = Number.isFinite(gradNorm) ? 0 : 1;
      m.skipped_total = this.skippedSteps;
    }
    return m;
  }

  /**
   * The step sessions' profile events (needs `profile: true`); profiling stops. Runs are counted
   * per session, so with accumulation run r of the grad session is micro-batch r, not step r.
   */
  async endProfiling(): Promise<ProfileEvent[]> {
    if (!this.config.profile) throw new Error("endProfiling: create the Trainer with profile: true");
    const out: ProfileEvent[] = [];
    for (const s of [this.sessions.fused, this.sessions.grad, this.sessions.apply])
      if (s?.endProfiling) out.push(...(await s.endProfiling()));
    return out;
  }

  /** Loss and metrics on a batch with the current parameters (no update). */
  async evaluate(batch: Batch): Promise<Record<string, number>> {
    this.checkBatch(batch);
    if (!this.evalSession) {
      const outs: Record<string, Tensor> = { loss: this.loss };
      for (const [k, t] of Object.entries(this.metrics)) outs[`metric.${k}`] = t;
      const m = compile(outs, this.compileOpts());
      this.sessions.models.eval = m;
      this.evalSession = await this.engine.createSession(m, { name: "eval" });
    }
    const s = this.evalSession;
    const heads = ["loss", ...this.metricNames.map((m) => `metric.${m}`)];
    const f: Record<string, HostTensor | DeviceTensor> = {};
    for (const n of s.inputNames) f[n] = batch[n] ?? this.state.get(n)!;
    const outs: Record<string, OutputSpec> = Object.fromEntries(heads.map((h) => [h, "host" as const]));
    const r = await s.run(f, outs);
    const res: Record<string, number> = { loss: Number(r.host.loss.data[0]) };
    for (const m of this.metricNames) res[m] = Number(r.host[`metric.${m}`].data[0]);
    return res;
  }

  /**
   * Forward pass with the current parameters: the loss, metrics and the model's extra `outputs`,
   * all read back to the host (e.g. reference log-probs to cache).
   */
  async forward(batch: Batch): Promise<Record<string, HostTensor>> {
    this.checkBatch(batch);
    if (!this.forwardSession) {
      const outs: Record<string, Tensor> = { loss: this.loss, ...this.metrics, ...this.extraOutputs };
      const m = compile(outs, this.compileOpts());
      this.sessions.models.forward = m;
      this.forwardSession = await this.engine.createSession(m, { name: "forward" });
    }
    const s = this.forwardSession;
    const f: Record<string, HostTensor | DeviceTensor> = {};
    for (const n of s.inputNames) f[n] = batch[n] ?? this.state.get(n)!;
    const r = await s.run(f, Object.fromEntries(s.outputNames.map((n) => [n, "host" as const])));
    return r.host;
  }

  /** Current parameter values (downloaded from the device). */
  async getParams(): Promise<Record<string, HostTensor>> {
    const out: Record<string, HostTensor> = {};
    for (const p of this.graph.params) {
      const t = this.state.get(p.name!);
      // frozen params kept inside the sessions never change: their initial values
      out[p.name!] = t ? await this.engine.download(t) : { dtype: p.dtype, shape: p.shape as number[], data: p.data! };
    }
    return out;
  }

  /**
   * Full optimizer state (params, moments, step) for checkpointing. `include` selects tensors by
   * name (e.g. skip frozen base weights that a checkpoint need not carry).
   */
  async getState(include: (name: string) => boolean = () => true): Promise<{ step: number; tensors: Record<string, HostTensor> }> {
    const tensors: Record<string, HostTensor> = {};
    for (const [k, v] of this.state) if (!k.startsWith("gacc.") && include(k)) tensors[k] = await this.engine.download(v);
    return { step: this.steps, tensors };
  }

  async setState(s: { step: number; tensors: Record<string, HostTensor> }): Promise<void> {
    for (const [k, t] of Object.entries(s.tensors)) {
      const old = this.state.get(k);
      if (!old) throw new Error(`setState: unknown tensor ${k}`);
      if (old.shape.join() !== t.shape.join()) throw new Error(`setState: ${k} has shape [${t.shape}], expected [${old.shape}]`);
      this.state.set(k, await this.engine.upload(t));
      this.engine.dispose(old);
    }
    this.steps = s.step;
  }

  async dispose(): Promise<void> {
    // tensors before sessions: onnxruntime-node's WebGPU EP frees a GPU output's memory with the session that made it
    for (const m of [this.state, this.spare, this.zeros]) for (const v of m.values()) this.engine.dispose(v);
    this.state.clear();
    this.spare.clear();
    this.zeros.clear();
    for (const s of [this.sessions.fused, this.sessions.grad, this.sessions.apply, this.evalSession, this.forwardSession])
      await s?.release();
  }

  /** Frozen (non-trainable) params, kept on the device. */
  get frozenParams(): Tensor[] {
    return this.frozen;
  }
}
