import { type DatasetRecord, type Instruction, sha256Hex } from "@iopo/common";
import { RECORD_LIMITS } from "@iopo/common/api";

/**
 * The Worker's helpers over dataset records. The records' schema and types are @iopo/common's
 * (api/records.ts), shared with the trainer; the Worker's modules take them through here.
 */
export { RECORD_KINDS } from "@iopo/common";
export { RECORD_LIMITS, RecordSchema } from "@iopo/common/api";
export type { Constraint, DatasetRecord, Instruction, RecordKind } from "@iopo/common";

/** The instruction that characterises a record (for statistics and filters). */
export function primaryInstruction(record: DatasetRecord): Instruction {
  switch (record.kind) {
    case "instruction":
    case "sft":
      return record.instruction;
    case "dpo":
      return record.prompt;
    case "iopo":
      return record.x1;
  }
}

/** Every instruction a record holds, with its path (for validation messages). */
export function instructionsOf(record: DatasetRecord): [string, Instruction][] {
  switch (record.kind) {
    case "instruction":
    case "sft":
      return [["instruction", record.instruction]];
    case "dpo":
      return [["prompt", record.prompt]];
    case "iopo":
      return [
        ["x1", record.x1],
        ["x2", record.x2],
      ];
  }
}

export { renderPrompt } from "@iopo/common";

/**
 * The top-level field of `value` under which its JSON nests deeper than `maxDepth` levels, or
 * null. Iterative: records are walked recursively later (validation, canonicalJson), which a
 * hostile 10,000-level `meta` would overflow, so this check runs first.
 */
export function fieldNestedTooDeep(value: unknown, maxDepth: number = RECORD_LIMITS.maxDepth): string | null {
  if (value === null || typeof value !== "object") return null;
  for (const [field, child] of Object.entries(value)) {
    const stack: Array<[unknown, number]> = [[child, 2]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop()!;
      if (node === null || typeof node !== "object") continue;
      if (depth > maxDepth) return field;
      for (const grandchild of Object.values(node)) stack.push([grandchild, depth + 1]);
    }
  }
  return null;
}

/** JSON with object keys sorted at every level: equal records serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** A record's id: the SHA-256 of its canonical JSON (kind included), so duplicates are detectable. */
export const recordId = (record: DatasetRecord) => sha256Hex(canonicalJson(record));
