/**
 * Instructions as the dataset API stores them (its record schema's types, from @iopo/common), and
 * the prompt a model is given for one: the API's own `renderPrompt`, so the trainer renders
 * exactly as the API does.
 */
import type { Instruction } from "@iopo/common";

export { type Constraint, type Instruction, renderPrompt } from "@iopo/common";

/** The instruction a stored record characterises (instruction and sft records; others have none to answer). */
export function instructionOfRow(row: Record<string, unknown>): Instruction | undefined {
  if ((row.kind === "instruction" || row.kind === "sft") && row.instruction && typeof row.instruction === "object")
    return row.instruction as Instruction;
  return undefined;
}
