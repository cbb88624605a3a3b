import type { ShardFormat } from "@iopo/common";
import { renderPrompt, type DatasetRecord, type RecordKind } from "./records.ts";

/**
 * Shard formats. `records` is the stored record itself; the others are what trainers read, with
 * the paper's token-controlled baselines for IOPO data: DPO pairs (x1: y1 > y2) and (x2: y2 > y1),
 * SFT pairs (x1, y1) and (x2, y2). A record with no line in a format (an instruction without a
 * response in `sft`, say) is skipped in that format. The format names are part of the wire
 * (@iopo/common/api's SHARD_FORMATS).
 */

type Line = Record<string, unknown>;

/** The record kinds that have lines in each format: what `exportLines` below produces lines for. */
export const FORMAT_KINDS: Record<ShardFormat, readonly RecordKind[]> = {
  records: ["instruction", "sft", "dpo", "iopo"],
  iopo: ["iopo"],
  dpo: ["dpo", "iopo"],
  sft: ["sft", "dpo", "iopo"],
  llamafactory: ["iopo"],
};

/** The formats in which records of these kinds have lines (a format that fits none would be all empty shards). */
export const formatsFor = (kinds: readonly RecordKind[]): ShardFormat[] =>
  (Object.keys(FORMAT_KINDS) as ShardFormat[]).filter((format) => FORMAT_KINDS[format].some((kind) => kinds.includes(kind)));

export function exportLines(id: string, record: DatasetRecord, format: ShardFormat): Line[] {
  switch (format) {
    case "records":
      return [{ id, ...record }];
    case "iopo":
      if (record.kind !== "iopo") return [];
      return [
        {
          id,
          ...systemOf(record.x1.system),
          x1: renderPrompt(record.x1),
          y1: record.y1,
          x2: renderPrompt(record.x2),
          y2: record.y2,
        },
      ];
    case "dpo":
      if (record.kind === "dpo") {
        return [
          { id, ...systemOf(record.prompt.system), prompt: renderPrompt(record.prompt), chosen: record.chosen, rejected: record.rejected },
        ];
      }
      if (record.kind === "iopo") {
        return [
          { id: `${id}:x1`, ...systemOf(record.x1.system), prompt: renderPrompt(record.x1), chosen: record.y1, rejected: record.y2 },
          { id: `${id}:x2`, ...systemOf(record.x2.system), prompt: renderPrompt(record.x2), chosen: record.y2, rejected: record.y1 },
        ];
      }
      return [];
    case "sft":
      switch (record.kind) {
        case "sft":
          return [{ id, ...systemOf(record.instruction.system), prompt: renderPrompt(record.instruction), response: record.response }];
        case "dpo":
          return [{ id, ...systemOf(record.prompt.system), prompt: renderPrompt(record.prompt), response: record.chosen }];
        case "iopo":
          return [
            { id: `${id}:x1`, ...systemOf(record.x1.system), prompt: renderPrompt(record.x1), response: record.y1 },
            { id: `${id}:x2`, ...systemOf(record.x2.system), prompt: renderPrompt(record.x2), response: record.y2 },
          ];
        default:
          return [];
      }
    case "llamafactory":
      // The IOPO authors' LLaMA-Factory shape: two human turns (x1, x2), chosen y1, rejected y2.
      if (record.kind !== "iopo") return [];
      return [
        {
          id,
          ...(record.x1.system !== undefined ? { system: record.x1.system } : {}),
          conversations: [
            { from: "human", value: renderPrompt(record.x1) },
            { from: "human", value: renderPrompt(record.x2) },
          ],
          chosen: { from: "gpt", value: record.y1 },
          rejected: { from: "gpt", value: record.y2 },
        },
      ];
  }
}

const systemOf = (system: string | undefined) => (system !== undefined ? { system } : {});
