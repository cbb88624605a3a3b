import {
  FORMAT_KINDS,
  llamaFactoryIopoLine,
  pairAsExample,
  type PreferencePair,
  type Quadruple,
  quadrupleAsExamples,
  quadrupleAsPairs,
  type SftExample,
  type ShardFormat,
} from "@iopo/common";
import { renderPrompt, type DatasetRecord, type Instruction, type RecordKind } from "./records.ts";

/**
 * Shard formats. `records` is the stored record itself; the others are what trainers read, with
 * the paper's token-controlled baselines for IOPO data (@iopo/common's formats: DPO pairs
 * (x1: y1 > y2) and (x2: y2 > y1), SFT pairs (x1, y1) and (x2, y2)), each prompt rendered. A
 * record with no line in a format (an instruction without a response in `sft`, say) is skipped in
 * that format. The format names are part of the wire (@iopo/common/api's SHARD_FORMATS).
 */

type Line = Record<string, unknown>;

export { FORMAT_KINDS };

/** The formats in which records of these kinds have lines (a format that fits none would be all empty shards). */
export const formatsFor = (kinds: readonly RecordKind[]): ShardFormat[] =>
  (Object.keys(FORMAT_KINDS) as ShardFormat[]).filter((format) => FORMAT_KINDS[format].some((kind) => kinds.includes(kind)));

const quadrupleOf = (id: string, record: Extract<DatasetRecord, { kind: "iopo" }>): Quadruple<Instruction> => ({
  id,
  x1: record.x1,
  y1: record.y1,
  x2: record.x2,
  y2: record.y2,
});

const pairLine = (pair: PreferencePair<Instruction>): Line => ({
  id: pair.id,
  ...systemOf(pair.prompt.system),
  prompt: renderPrompt(pair.prompt),
  chosen: pair.chosen,
  rejected: pair.rejected,
});

const exampleLine = (example: SftExample<Instruction>): Line => ({
  id: example.id,
  ...systemOf(example.prompt.system),
  prompt: renderPrompt(example.prompt),
  response: example.response,
});

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
      if (record.kind === "dpo") return [pairLine({ id, prompt: record.prompt, chosen: record.chosen, rejected: record.rejected })];
      if (record.kind === "iopo") return quadrupleAsPairs(quadrupleOf(id, record)).map(pairLine);
      return [];
    case "sft":
      switch (record.kind) {
        case "sft":
          return [exampleLine({ id, prompt: record.instruction, response: record.response })];
        case "dpo":
          return [exampleLine(pairAsExample({ id, prompt: record.prompt, chosen: record.chosen, rejected: record.rejected }))];
        case "iopo":
          return quadrupleAsExamples(quadrupleOf(id, record)).map(exampleLine);
        default:
          return [];
      }
    case "llamafactory":
      if (record.kind !== "iopo") return [];
      return [
        llamaFactoryIopoLine(
          { id, x1: renderPrompt(record.x1), y1: record.y1, x2: renderPrompt(record.x2), y2: record.y2 },
          record.x1.system,
        ),
      ];
  }
}

const systemOf = (system: string | undefined) => (system !== undefined ? { system } : {});
