/**
 * The training data formats, as the dataset API writes them into shards and the trainer reads
 * them back: an IOPO quadruple (x1, y1, x2, y2), a DPO pair and an SFT example, over any prompt
 * type (an instruction for the API, a conversation for the trainer); the paper's token-controlled
 * baselines that expand a quadruple into pairs and examples; and the IOPO authors' LLaMA-Factory
 * line. Written once here so a shard and the trainer's expansion of a quadruple agree line for line.
 */
import type { RecordKind, ShardFormat } from "./api-types.ts";

/**
 * Every record kind (RecordSchema's, which `satisfies` holds it to), in the order statistics list
 * them; the D1 column's enum (src/db/schema.ts) and the row filters read it.
 */
export const RECORD_KINDS = ["instruction", "sft", "dpo", "iopo"] as const satisfies readonly RecordKind[];

export interface Quadruple<P> {
  id: string;
  x1: P;
  y1: string;
  x2: P;
  y2: string;
}

export interface PreferencePair<P> {
  id: string;
  prompt: P;
  chosen: string;
  rejected: string;
}

export interface SftExample<P> {
  id: string;
  prompt: P;
  response: string;
}

/** The id of what a quadruple's x1 or x2 side becomes: the quadruple's id with ":x1" or ":x2". */
const sideId = (id: string, side: "x1" | "x2") => `${id}:${side}`;

/** The record id a line belongs to: dpo and sft lines expanded from a quadruple carry ":x1"/":x2". */
export const recordIdOfLine = (lineId: string) => lineId.replace(/:x[12]$/, "");

/** DPO from a quadruple: (x1: y1 > y2) and (x2: y2 > y1), each response preferred under its own instruction. */
export const quadrupleAsPairs = <P>(q: Quadruple<P>): PreferencePair<P>[] => [
  { id: sideId(q.id, "x1"), prompt: q.x1, chosen: q.y1, rejected: q.y2 },
  { id: sideId(q.id, "x2"), prompt: q.x2, chosen: q.y2, rejected: q.y1 },
];

/** SFT from a quadruple: (x1, y1) and (x2, y2). */
export const quadrupleAsExamples = <P>(q: Quadruple<P>): SftExample<P>[] => [
  { id: sideId(q.id, "x1"), prompt: q.x1, response: q.y1 },
  { id: sideId(q.id, "x2"), prompt: q.x2, response: q.y2 },
];

/** SFT from a preference pair: the chosen response. */
export const pairAsExample = <P>(p: PreferencePair<P>): SftExample<P> => ({ id: p.id, prompt: p.prompt, response: p.chosen });

/**
 * The record kinds that have lines in each shard format: a quadruple expands into dpo and sft
 * lines, a pair into sft lines. A trainer method reads one format, so this is also what it trains on.
 */
export const FORMAT_KINDS: { readonly [F in ShardFormat]: readonly RecordKind[] } = {
  records: RECORD_KINDS,
  iopo: ["iopo"],
  dpo: ["dpo", "iopo"],
  sft: ["sft", "dpo", "iopo"],
  llamafactory: ["iopo"],
};

/** A chat turn in the ShareGPT shape LLaMA-Factory reads. */
export type ShareGptTurn = { from: "human" | "gpt"; value: string };

/** The IOPO authors' LLaMA-Factory line: two human turns (x1, x2), chosen y1, rejected y2. */
export type LlamaFactoryIopoLine = {
  id: string;
  system?: string;
  conversations: [ShareGptTurn, ShareGptTurn];
  chosen: ShareGptTurn;
  rejected: ShareGptTurn;
};

export const llamaFactoryIopoLine = (q: Quadruple<string>, system: string | undefined): LlamaFactoryIopoLine => ({
  id: q.id,
  ...(system !== undefined ? { system } : {}),
  conversations: [
    { from: "human", value: q.x1 },
    { from: "human", value: q.x2 },
  ],
  chosen: { from: "gpt", value: q.y1 },
  rejected: { from: "gpt", value: q.y2 },
});
