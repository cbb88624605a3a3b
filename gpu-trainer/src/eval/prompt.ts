/**
 * Instructions as the dataset API stores them, and the prompt a model is given for one: the
 * API's `renderPrompt` (src/datasets/records.ts; kept identical, a test checks it), TRACE's rule:
 * description, the constraints one per line, then `# Inputs:` and the input when there is one; a
 * verbatim `prompt` wins.
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

export function renderPrompt(instruction: Instruction): string {
  if (instruction.prompt !== undefined) return instruction.prompt;
  let text = `${instruction.description}\n`;
  if (instruction.constraints.length > 0) text += `${instruction.constraints.map((c) => c.text).join("\n")}\n`;
  const input = instruction.input;
  if (input !== undefined && input !== null && input !== "" && input !== "NULL") text += `# Inputs:\n${input}\n`;
  return text;
}

/** The instruction a stored record characterises (instruction and sft records; others have none to answer). */
export function instructionOfRow(row: Record<string, unknown>): Instruction | undefined {
  if ((row.kind === "instruction" || row.kind === "sft") && row.instruction && typeof row.instruction === "object") return row.instruction as Instruction;
  return undefined;
}
