/**
 * How an instruction becomes the user prompt a model sees, shared by the dataset API (shard
 * exports, the TRACE judge) and the trainer (generation, evaluation), so both render identically.
 * TRACE's rule: the description, the constraints one per line, then `# Inputs:` and the input when
 * there is one ("NULL" in TRACE's data means none). A verbatim `prompt` (IFEval, whose constraints
 * are embedded in the prose) wins.
 */

export interface PromptConstraint {
  text: string;
}

export interface PromptInstruction {
  description: string;
  constraints: readonly PromptConstraint[];
  input?: string | null;
  prompt?: string;
}

export function renderPrompt(instruction: PromptInstruction): string {
  if (instruction.prompt !== undefined) return instruction.prompt;
  let text = `${instruction.description}\n`;
  if (instruction.constraints.length > 0) text += `${instruction.constraints.map((c) => c.text).join("\n")}\n`;
  const input = instruction.input;
  if (input !== undefined && input !== null && input !== "" && input !== "NULL") text += `# Inputs:\n${input}\n`;
  return text;
}
