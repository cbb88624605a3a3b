/**
 * The training order: the shared deterministic permutation of record indices for (seed, epoch)
 * (@iopo/common's order, the same code the dataset API serves), each record expanded into the
 * examples the method trains on. A cursor {epoch, sample} is a position in that sequence; batches
 * are consecutive runs of it, and the tail of an epoch too short for a full optimizer step is
 * skipped (drop-last), so every step sees the same number of examples and a resumed run consumes
 * exactly what an uninterrupted one would.
 */
import { permutation } from "@iopo/common";
import type { Method } from "../train/losses.ts";
import type { Dataset } from "./dataset.ts";
import { DataError, type Sample, expandForMethod } from "./samples.ts";

/** An example with a key that is stable for a dataset version: "<record>.<k>" (k-th example of the record). */
export interface Example {
  key: string;
  sample: Sample;
}

export interface Cursor {
  epoch: number;
  /** Examples of this epoch already consumed. */
  sample: number;
}

/** The epoch the validation split is drawn with (a fixed, otherwise unused permutation). */
const VALIDATION_EPOCH = 2 ** 31;

export class ExampleOrder {
  /** Record indices held out for validation. */
  readonly valRecords: ReadonlySet<number>;
  readonly val: Example[];
  readonly examplesPerEpoch: number;
  private cache?: { epoch: number; examples: Example[] };

  constructor(
    readonly dataset: Dataset,
    readonly method: Method,
    readonly seed: number,
    valSize = 0,
  ) {
    const n = dataset.records.length;
    if (valSize >= n) throw new DataError(`--val-size ${valSize} leaves no training records (the dataset has ${n})`);
    const held = new Set<number>();
    if (valSize > 0) {
      const p = permutation(n, seed, VALIDATION_EPOCH);
      for (let i = 0; i < valSize; i++) held.add(p.at(i));
    }
    this.valRecords = held;
    this.val = [...held].sort((a, b) => a - b).flatMap((r) => this.expand(r));
    let count = 0;
    for (let r = 0; r < n; r++) if (!held.has(r)) count += this.expand(r).length;
    this.examplesPerEpoch = count;
  }

  /** Examples per record, expanded once (the batcher memoises tokenization per example object). */
  private expanded: Example[][] = [];
  private expand(record: number): Example[] {
    return (this.expanded[record] ??= this.dataset.records[record]
      .flatMap((s) => expandForMethod(s, this.method))
      .map((sample, k) => ({ key: `${record}.${k}`, sample })));
  }

  /** Every example (training and validation), in record order: what the reference cache covers. */
  all(): Example[] {
    const out: Example[] = [];
    for (let r = 0; r < this.dataset.records.length; r++) out.push(...this.expand(r));
    return out;
  }

  /** Every training example of an epoch, in order. */
  epoch(epoch: number): Example[] {
    if (this.cache?.epoch === epoch) return this.cache.examples;
    const n = this.dataset.records.length;
    const p = permutation(n, this.seed, epoch);
    const examples: Example[] = [];
    for (let i = 0; i < n; i++) {
      const r = p.at(i);
      if (!this.valRecords.has(r)) examples.push(...this.expand(r));
    }
    this.cache = { epoch, examples };
    return examples;
  }

  /** Optimizer steps per epoch at `examplesPerStep` examples each. */
  stepsPerEpoch(examplesPerStep: number): number {
    return Math.floor(this.examplesPerEpoch / examplesPerStep);
  }

  /** The next `n` examples from `cursor` (moving to the next epoch when this one has fewer left). */
  take(cursor: Cursor, n: number): { examples: Example[]; next: Cursor; start: Cursor } {
    if (n > this.examplesPerEpoch)
      throw new DataError(
        `one optimizer step needs ${n} examples (batch size x gradient accumulation) but an epoch has ${this.examplesPerEpoch}`,
      );
    let start = cursor;
    if (start.sample + n > this.examplesPerEpoch) start = { epoch: start.epoch + 1, sample: 0 };
    const examples = this.epoch(start.epoch).slice(start.sample, start.sample + n);
    return { examples, start, next: { epoch: start.epoch, sample: start.sample + n } };
  }
}
