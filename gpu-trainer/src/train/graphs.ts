/**
 * The graphs the trainer runs: the training model (policy log-probs, reference log-probs, loss and
 * TRL metrics) for `Trainer`, and a log-prob-only model for the reference cache, the `logprobs`
 * command and evaluation.
 */
import {
  compile,
  type Graph,
  type Tensor,
  type DeviceTensor,
  type Engine,
  type EngineSession,
  type HostTensor,
  type ModelFn,
} from "@iopo/graph";
import type { DecoderConfig } from "../model/config.ts";
import { type LoraConfig, type ModelWeights, declareParams, decoderLabelLogProbs, sequenceLogProbs } from "../model/decoder.ts";
import { BLOCKS, type LossOptions, type Method, buildLoss, needsReference } from "./losses.ts";

export interface BatchInputs {
  ids: Tensor;
  labels: Tensor;
  lossMask: Tensor;
  keyMask: Tensor;
  cos: Tensor;
  sin: Tensor;
}

/** Rows dimension for K blocks of B examples ("B", "2*B", "4*B"): reshapes to [K, B] need no binding. */
export const rowsDim = (blocks: number) => (blocks === 1 ? "B" : `${blocks}*B`);

export function declareBatchInputs(g: Graph, c: DecoderConfig, blocks: number): BatchInputs {
  const N = rowsDim(blocks);
  return {
    ids: g.input("ids", "int32", [N, "T"]),
    labels: g.input("labels", "int32", [N, "T"]),
    lossMask: g.input("loss_mask", "float32", [N, "T"]),
    keyMask: g.input("key_mask", "float32", [N, "T"]),
    cos: g.input("rope.cos", "float32", ["T", c.headDim]),
    sin: g.input("rope.sin", "float32", ["T", c.headDim]),
  };
}

export type ReferenceMode = "cache" | "on-the-fly";

export interface TrainingModelOptions {
  method: Method;
  config: DecoderConfig;
  /** The network's starting weights (base weights, or a full fine-tune's checkpoint). */
  weights: ModelWeights;
  /** The reference network's weights (the base model), for full fine-tuning on the fly. */
  referenceWeights?: ModelWeights;
  lora?: LoraConfig;
  loraInit?: ModelWeights;
  seed: number;
  loss: LossOptions;
  /** cache: reference log-probs are fed per batch (input "ref_logps"); on-the-fly: computed in the graph. */
  reference: ReferenceMode;
  /** The decoder's compute dtype (float16: pair with the Trainer's `lossScaling`). */
  computeDtype?: "float32" | "float16";
  /**
   * Vocabulary columns per head chunk (decoder.ts's HeadOptions; 0: whole logits), and rows per
   * chunk parameter of a trained embedding and head (decoder.ts's ParamOptions; 0: whole tensors).
   */
  vocabChunk?: number;
  /** The embedding and head as one tensor each however the head is chunked (the reference the chunk parameters are tested against). */
  wholeVocabParams?: boolean;
  /** Recompute each layer's activations in the backward pass (decoder.ts's ForwardOptions). */
  recompute?: boolean;
  /** The dtype of the weights that do not train (decoder.ts's ParamOptions; default: the compute dtype). */
  frozenDtype?: "float32" | "float16";
  /** Whether the engine runs float16 (Engine.float16; decoder.ts's ParamOptions). */
  float16?: boolean;
}

/**
 * The Trainer's model: policy (LoRA adapters on frozen base weights, or every weight trainable),
 * per-row summed log-probs, the reference's (fed, or the same network with adapters off, or a
 * frozen copy), and the method's loss with its metrics. Extra output `logps` (policy, per row).
 */
export function trainingModel(o: TrainingModelOptions): ModelFn {
  return (g) => {
    const K = BLOCKS[o.method].length;
    const inp = declareBatchInputs(g, o.config, K);
    const frozenDtype = o.frozenDtype ?? o.computeDtype;
    const policy = declareParams(g, o.config, o.weights, {
      trainable: !o.lora,
      frozenDtype,
      float16: o.float16,
      lora: o.lora,
      loraInit: o.loraInit,
      seed: o.seed,
      vocabChunk: o.wholeVocabParams ? 0 : o.vocabChunk,
    });
    const dec = { ids: inp.ids, keyMask: inp.keyMask, cos: inp.cos, sin: inp.sin };
    const head = { dtype: o.computeDtype, vocabChunk: o.vocabChunk, recompute: o.recompute };
    const logps = sequenceLogProbs(decoderLabelLogProbs(policy, dec, inp.labels, head), inp.lossMask);
    let reference: Tensor | undefined;
    if (needsReference(o.method)) {
      if (o.reference === "cache") reference = g.input("ref_logps", "float32", [rowsDim(K)]);
      else {
        const refParams = o.lora
          ? policy
          : declareParams(g, o.config, o.referenceWeights ?? o.weights, {
              prefix: "ref.",
              trainable: false,
              frozenDtype,
              float16: o.float16,
            });
        const refLogps = decoderLabelLogProbs(refParams, dec, inp.labels, { ...head, adapters: false });
        reference = g.stopGradient(sequenceLogProbs(refLogps, inp.lossMask));
      }
    }
    const tokens = g.reduceSum(inp.lossMask, -1);
    const { loss, metrics } = buildLoss(o.method, { policy: logps, reference, tokens }, o.loss);
    return { loss, metrics, outputs: { logps } };
  };
}

/**
 * Summed response log-probs per row with fixed weights, parameters uploaded once and fed as
 * device tensors on every run.
 */
export class LogprobRunner {
  private constructor(
    private readonly engine: Engine,
    private readonly session: EngineSession,
    private readonly params: Map<string, DeviceTensor>,
  ) {}

  static async create(
    engine: Engine,
    c: DecoderConfig,
    weights: ModelWeights,
    lora?: { config: LoraConfig; weights: ModelWeights },
  ): Promise<LogprobRunner> {
    const { Graph } = await import("@iopo/graph");
    const g = new Graph();
    // any row count: a single block
    const inp = declareBatchInputs(g, c, 1);
    const p = declareParams(g, c, weights, { trainable: false, float16: engine.float16, lora: lora?.config, loraInit: lora?.weights });
    const dec = { ids: inp.ids, keyMask: inp.keyMask, cos: inp.cos, sin: inp.sin };
    const logps = sequenceLogProbs(decoderLabelLogProbs(p, dec, inp.labels), inp.lossMask);
    const model = compile({ logps });
    const session = await engine.createSession(model, { name: "logprobs" });
    const params = new Map<string, DeviceTensor>();
    for (const t of g.params) params.set(t.name!, await engine.upload({ dtype: t.dtype, shape: t.shape as number[], data: t.data! }));
    return new LogprobRunner(engine, session, params);
  }

  /** Per-row log-probs for a collated batch's feeds. */
  async run(feeds: Record<string, HostTensor>): Promise<Float32Array> {
    const f: Record<string, HostTensor | DeviceTensor> = {};
    for (const n of this.session.inputNames) {
      const v = feeds[n] ?? this.params.get(n);
      if (!v) throw new Error(`logprobs: no value for ${n}`);
      f[n] = v;
    }
    const r = await this.session.run(f, { logps: "host" });
    return r.host.logps.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
    for (const t of this.params.values()) this.engine.dispose(t);
    this.params.clear();
  }
}
