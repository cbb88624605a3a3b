/**
 * Instructions as the dataset API stores them, and the prompt a model is given for one: the
 * API's own `renderPrompt` (in @iopo/common), so the trainer renders exactly as the API does.
 */

export interface Constraint {
  text: string;
  dimension?: string;
  checker?: { id: string; kwargs?: Record<string, unknown> };
}

export interface Instruction {
  description: string;
  constraints: Constraint[];
  input?: string | null;
  prompt?: string;
  system?: string;
}

export { renderPrompt } from "@iopo/common";

/** The instruction a stored record characterises (instruction and sft records; others have none to answer). */
export function instructionOfRow(row: Record<string, unknown>): Instruction | undefined {
  if ((row.kind === "instruction" || row.kind === "sft") && row.instruction && typeof row.instruction === "object")
    return row.instruction as Instruction;
  return undefined;
}
