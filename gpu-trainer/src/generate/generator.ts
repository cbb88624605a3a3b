/**
 * Autoregressive generation with a KV cache kept on the engine's device.
 *
 * Prompts are batched (longest first, so rows of a batch have similar lengths), left-padded, and
 * decoded together: one prefill run over the prompts, then one run per new token. Positions are
 * counted from each row's first real token (as transformers' generate does with left padding), so
 * a padded row computes what it would alone. The caches and weights never leave the device; only
 * the last position's logits come back to the host, where the next token is chosen (greedy, or
 * temperature + top-p with a per-prompt seeded generator). A row stops at a stop token or after
 * `maxNewTokens`; the batch stops when every row has.
 */
import { compile, type DeviceTensor, type Engine, type EngineSession, type HostTensor, type OutputSpec } from "@iopo/graph";
import { type DecoderConfig, ropeTables } from "../model/config.ts";
import type { LoraConfig, ModelWeights } from "../model/decoder.ts";
import { buildDecodeGraph, pastName, presentName } from "./decode-graph.ts";
import { type SamplingOptions, sampleToken, seededRng } from "./sampling.ts";

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per prompt at most (default 256). */
  maxNewTokens?: number;
  /** Token ids that end a row (not included in the output). */
  stopTokens?: readonly number[];
  /** Seed of the sampling generators (prompt i uses stream i). */
  seed?: number;
  /** Prompts decoded together (default 8). */
  batchSize?: number;
  /** Token used for left padding (default 0; masked out, so any id works). */
  padTokenId?: number;
  /** Called after each batch with the number of prompts done. */
  onProgress?: (done: number, total: number) => void;
}

export type FinishReason = "stop" | "length";

export interface Generation {
  /** New tokens, without the stop token. */
  tokens: number[];
  finishReason: FinishReason;
  promptTokens: number;
  /** The stop token that ended the row, if any. */
  stopToken?: number;
}

export interface GeneratorInit {
  engine: Engine;
  config: DecoderConfig;
  weights: ModelWeights;
  /** LoRA adapters applied unmerged (a loaded adapter is merged into its base instead: model.ts). */
  lora?: { config: LoraConfig; weights: ModelWeights };
}

const NEG = -1e9;

export class Generator {
  private params = new Map<string, DeviceTensor>();
  private constructor(
    readonly engine: Engine,
    readonly config: DecoderConfig,
    private session: EngineSession,
  ) {}

  /** Compile the decode graph, create its session and upload the weights. */
  static async create(init: GeneratorInit): Promise<Generator> {
    const { graph, outputs } = buildDecodeGraph(init.config, init.weights, init.lora, init.engine.float16);
    const model = compile(outputs, { paramsAsInputs: true });
    const deviceOutputs = Object.keys(outputs).filter((n) => n.startsWith("present."));
    const session = await init.engine.createSession(model, { deviceOutputs, name: "decode" });
    const gen = new Generator(init.engine, init.config, session);
    for (const p of graph.params) {
      if (!session.inputNames.includes(p.name!)) continue;
      gen.params.set(p.name!, await init.engine.upload({ dtype: p.dtype, shape: p.shape as number[], data: p.data! }));
    }
    return gen;
  }

  /** Generate for each prompt (token ids, chat template already applied); results in input order. */
  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions = {}): Promise<Generation[]> {
    const batchSize = Math.max(1, opts.batchSize ?? 8);
    const order = prompts.map((_, i) => i).sort((a, b) => prompts[b].length - prompts[a].length || a - b);
    const out = new Array<Generation>(prompts.length);
    for (let b = 0; b < order.length; b += batchSize) {
      const rows = order.slice(b, b + batchSize);
      const res = await this.generateBatch(
        rows.map((i) => prompts[i]),
        rows,
        opts,
      );
      rows.forEach((i, k) => (out[i] = res[k]));
      opts.onProgress?.(Math.min(b + batchSize, order.length), order.length);
    }
    return out;
  }

  /**
   * Start decoding a batch: the prompts left-padded to the longest, caches for up to
   * `maxNewTokens` more tokens. The caller runs `prefill` once, then `step` per new token.
   */
  async openBatch(prompts: readonly (readonly number[])[], maxNewTokens: number, padTokenId = 0): Promise<DecodeBatch> {
    return DecodeBatch.open(
      { engine: this.engine, config: this.config, session: this.session, params: this.params },
      prompts,
      maxNewTokens,
      padTokenId,
    );
  }

  private async generateBatch(prompts: readonly (readonly number[])[], streams: number[], opts: GenerateOptions): Promise<Generation[]> {
    const N = prompts.length;
    const V = this.config.vocabSize;
    const maxNew = Math.max(1, opts.maxNewTokens ?? 256);
    const stop = new Set(opts.stopTokens ?? []);
    const pad = opts.padTokenId ?? 0;
    const rngs = streams.map((s) => seededRng(opts.seed ?? 0, s));
    const tokens: number[][] = prompts.map(() => []);
    const done: (FinishReason | undefined)[] = new Array(N).fill(undefined);
    const stopToken: (number | undefined)[] = new Array(N).fill(undefined);
    const choose = (logits: Float32Array) => {
      const next = new Int32Array(N).fill(pad);
      for (let n = 0; n < N; n++) {
        if (done[n]) continue;
        const t = sampleToken(logits, n * V, V, opts, rngs[n]);
        if (stop.has(t)) {
          done[n] = "stop";
          stopToken[n] = t;
          continue;
        }
        tokens[n].push(t);
        next[n] = t;
        if (tokens[n].length >= maxNew) done[n] = "length";
      }
      return next;
    };

    const batch = await this.openBatch(prompts, maxNew, pad);
    try {
      let next = choose(await batch.prefill());
      while (done.some((d) => !d))
        next = choose(
          await batch.step(
            next,
            done.map((d) => !d),
          ),
        );
    } finally {
      batch.close();
    }
    return prompts.map((p, n) => ({
      tokens: tokens[n],
      finishReason: done[n]!,
      promptTokens: p.length,
      ...(stopToken[n] !== undefined ? { stopToken: stopToken[n] } : {}),
    }));
  }

  async dispose(): Promise<void> {
    await this.session.release();
    for (const t of this.params.values()) this.engine.dispose(t);
    this.params.clear();
  }
}

/** What a batch decodes with: the compiled decode graph's session and the uploaded weights. */
interface DecodeSession {
  engine: Engine;
  config: DecoderConfig;
  session: EngineSession;
  params: ReadonlyMap<string, DeviceTensor>;
}

/**
 * One batch's decoding on the device: its KV caches, and on the host which cache slots hold real
 * tokens. Positions are counted from each row's first real token (as transformers' generate does
 * with left padding), so a padded row computes what it would alone.
 */
export class DecodeBatch {
  /** Slots written so far (the prompt's, then one per step). */
  private slot = 0;
  private readonly past = new Map<string, DeviceTensor>();
  /** Preallocated outputs the caches ping-pong with (engines that take them). */
  private readonly spare = new Map<string, DeviceTensor>();
  /** The longest prompt's length (the others are left-padded to it). */
  private readonly Tp: number;
  /** Cache length: the longest prompt plus the new tokens. */
  private readonly L: number;
  /** real[n * L + j]: slot j of row n holds a real token (not padding, not unwritten). */
  private readonly real: Uint8Array;
  private readonly rope: { cos: Float32Array; sin: Float32Array };

  private constructor(
    private readonly s: DecodeSession,
    private readonly prompts: readonly (readonly number[])[],
    maxNewTokens: number,
    private readonly padTokenId: number,
  ) {
    const N = prompts.length;
    this.Tp = Math.max(...prompts.map((p) => p.length));
    if (this.Tp === 0) throw new Error("generate: empty prompt");
    this.L = this.Tp + maxNewTokens;
    this.real = new Uint8Array(N * this.L);
    prompts.forEach((p, n) => this.real.fill(1, n * this.L + this.Tp - p.length, n * this.L + this.Tp));
    this.rope = ropeTables(s.config, this.L);
  }

  static async open(
    s: DecodeSession,
    prompts: readonly (readonly number[])[],
    maxNewTokens: number,
    padTokenId: number,
  ): Promise<DecodeBatch> {
    const b = new DecodeBatch(s, prompts, maxNewTokens, padTokenId);
    const c = s.config;
    // caches: zeros (unwritten slots are masked, but must not be NaN)
    const shape = [prompts.length, c.numKvHeads, b.L, c.headDim];
    const zeros = { dtype: "float32" as const, shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)) };
    for (let l = 0; l < c.numLayers; l++)
      for (const kv of ["key", "value"] as const) {
        b.past.set(pastName(l, kv), await s.engine.upload(zeros));
        if (s.engine.preallocatedOutputs) b.spare.set(pastName(l, kv), await s.engine.alloc("float32", shape));
      }
    return b;
  }

  /** Run the prompts: the logits [N, V] of each row's last prompt token. */
  async prefill(): Promise<Float32Array> {
    const { Tp } = this;
    const ids = new Int32Array(this.prompts.length * Tp).fill(this.padTokenId);
    this.prompts.forEach((p, n) => ids.set(p, n * Tp + Tp - p.length));
    return this.run(ids, Tp);
  }

  /** Append one token per row (`live[n]` false: row n has finished, its token is padding): the logits [N, V] after it. */
  async step(next: Int32Array, live: readonly boolean[]): Promise<Float32Array> {
    if (this.slot >= this.L) throw new Error(`generate: the cache holds ${this.L} tokens`);
    live.forEach((on, n) => on && (this.real[n * this.L + this.slot] = 1));
    return this.run(next, 1);
  }

  private async run(ids: Int32Array, S: number): Promise<Float32Array> {
    const { config: c, engine, session, params } = this.s;
    const { L, Tp, real, slot: slot0 } = this;
    const N = this.prompts.length;
    const hd = c.headDim;
    const cos = new Float32Array(N * S * hd);
    const sin = new Float32Array(N * S * hd);
    const bias = new Float32Array(N * S * L).fill(NEG);
    for (let n = 0; n < N; n++)
      for (let s = 0; s < S; s++) {
        const slot = slot0 + s;
        const pos = Math.max(0, slot - (Tp - this.prompts[n].length));
        cos.set(this.rope.cos.subarray(pos * hd, pos * hd + hd), (n * S + s) * hd);
        sin.set(this.rope.sin.subarray(pos * hd, pos * hd + hd), (n * S + s) * hd);
        const row = (n * S + s) * L;
        for (let j = 0; j <= slot; j++) if (real[n * L + j]) bias[row + j] = 0;
        bias[row + slot] = 0; // a padding query attends itself (its output is unused)
      }
    const feeds: Record<string, HostTensor | DeviceTensor> = {
      ids: { dtype: "int32", shape: [N, S], data: ids },
      cos: { dtype: "float32", shape: [N, 1, S, hd], data: cos },
      sin: { dtype: "float32", shape: [N, 1, S, hd], data: sin },
      write_idx: { dtype: "int32", shape: [1, 1, S, 1], data: Int32Array.from({ length: S }, (_, s) => slot0 + s) },
      last: { dtype: "int32", shape: [], data: Int32Array.of(S - 1) },
      bias: { dtype: "float32", shape: [N, 1, 1, S, L], data: bias },
    };
    for (const [k, v] of params) feeds[k] = v;
    for (const [k, v] of this.past) feeds[k] = v;
    const outs: Record<string, OutputSpec> = { logits: "host" };
    for (let l = 0; l < c.numLayers; l++)
      for (const kv of ["key", "value"] as const) outs[presentName(l, kv)] = this.spare.get(pastName(l, kv)) ?? "device";
    const r = await session.run(feeds, outs);
    for (let l = 0; l < c.numLayers; l++)
      for (const kv of ["key", "value"] as const) {
        const name = pastName(l, kv);
        const old = this.past.get(name)!;
        this.past.set(name, r.device[presentName(l, kv)]);
        if (this.spare.has(name)) this.spare.set(name, old);
        else engine.dispose(old);
      }
    this.slot += S;
    return r.host.logits.data as Float32Array;
  }

  /** Free the caches. */
  close(): void {
    for (const t of this.past.values()) this.s.engine.dispose(t);
    for (const t of this.spare.values()) this.s.engine.dispose(t);
  }
}
