import type { DatasetRecord, Instruction } from "./records.ts";

/**
 * Converters from public formats to dataset records. Pure functions of one parsed input line, so
 * the CLI (streaming a file through the API) and the start-up seeding share them. A converter
 * throws an `ImportLineError` for a line it cannot convert; the caller adds the line number.
 */

export const IMPORT_FORMATS = ["trace", "ifeval", "llamafactory-iopo", "trl-dpo", "iopo"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** One input line of each format and the record kind it becomes, for `iopo import --help`. */
export const IMPORT_EXAMPLES: { readonly [F in ImportFormat]: { line: string; becomes: string } } = {
  trace: {
    line: '{"id": "0", "description": "Describe a song", "constraints_splits": ["1. Use a literary tone;"], "levels2": ["语气风格约束"], "input": "Hotel California"}',
    becomes: "instruction (sft with a `response` or an assistant turn in `messages`)",
  },
  ifeval: {
    line: '{"key": 1000, "prompt": "Write a poem without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}',
    becomes: "instruction (sft with a `response`)",
  },
  "llamafactory-iopo": {
    line: '{"conversations": [{"from": "human", "value": "x1"}, {"from": "human", "value": "x2"}], "chosen": {"from": "gpt", "value": "y1"}, "rejected": {"from": "gpt", "value": "y2"}}',
    becomes: "iopo (x1, y1, x2, y2)",
  },
  "trl-dpo": {
    line: '{"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "I cannot."}',
    becomes: "dpo (strings or chat message lists)",
  },
  iopo: {
    line: '{"x1": "Answer in French.", "y1": "Bonjour.", "x2": "Answer in English.", "y2": "Hello."}',
    becomes: 'iopo (or any record as stored, with its "kind")',
  },
};

export class ImportLineError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "ImportLineError";
  }
}

/** How the `ifeval` format names a constraint in words; the judge's registry provides it. */
export type DescribeChecker = (id: string, kwargs: Record<string, unknown>) => string;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function requireString(line: Json, field: string): string {
  const value = line[field];
  if (typeof value !== "string") throw new ImportLineError(field, `expected a string`);
  return value;
}

/** Text of a message list's turns with `role`, or the string itself. */
function textOf(value: unknown, field: string, role?: string): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const turns = value.filter((m) => isObject(m) && (role === undefined || m.role === role || m.from === role));
    const last = turns[turns.length - 1];
    if (isObject(last) && typeof (last.content ?? last.value) === "string") return String(last.content ?? last.value);
  }
  if (isObject(value) && typeof (value.content ?? value.value) === "string") return String(value.content ?? value.value);
  throw new ImportLineError(field, "expected a string or a list of chat messages");
}

/** An instruction known only by its prompt text (no structured constraints). */
const promptOnly = (prompt: string, system?: string): Instruction => ({
  description: prompt,
  constraints: [],
  prompt,
  ...(system !== undefined ? { system } : {}),
});

/** TRACE (Complex-IF) lines: description, constraints_splits with their levels2 dimensions, input. */
function fromTrace(line: Json, dimensionLabels: ReadonlySet<string> | undefined): DatasetRecord {
  const description = requireString(line, "description");
  const splits = line.constraints_splits;
  if (!Array.isArray(splits) || !splits.every((s) => typeof s === "string")) {
    throw new ImportLineError("constraints_splits", "expected a list of strings");
  }
  const levels = Array.isArray(line.levels2) ? line.levels2 : [];
  const unmapped: string[] = [];
  const constraints = (splits as string[]).map((text, i) => {
    const label = typeof levels[i] === "string" ? (levels[i] as string) : undefined;
    // TRACE has two labels outside its own taxonomy ('输入格式约束', '·'): keep them in meta
    if (label !== undefined && dimensionLabels && !dimensionLabels.has(label)) {
      unmapped.push(label);
      return { text };
    }
    return label !== undefined ? { text, dimension: label } : { text };
  });
  const input = typeof line.input === "string" && line.input !== "NULL" ? line.input : null;
  const messages = Array.isArray(line.messages) ? (line.messages as Json[]) : [];
  const system = messages.find((m) => m.role === "system")?.content;
  const instruction: Instruction = {
    description,
    constraints,
    input,
    ...(typeof system === "string" ? { system } : {}),
  };
  const meta: Json = { source: "trace" };
  for (const key of ["id", "category", "type"]) if (line[key] !== undefined) meta[key] = line[key];
  if (unmapped.length) meta.unmapped_levels2 = unmapped;
  const assistant = messages.find((m) => m.role === "assistant")?.content;
  const response = typeof line.response === "string" ? line.response : typeof assistant === "string" ? assistant : undefined;
  return response !== undefined ? { kind: "sft", instruction, response, meta } : { kind: "instruction", instruction, meta };
}

/** IFEval input_data lines: the prompt verbatim, each instruction id a checked constraint. */
function fromIfeval(line: Json, describe: DescribeChecker | undefined): DatasetRecord {
  const prompt = requireString(line, "prompt");
  const ids = line.instruction_id_list;
  const kwargsList = line.kwargs;
  if (!Array.isArray(ids) || !ids.every((s) => typeof s === "string"))
    throw new ImportLineError("instruction_id_list", "expected a list of ids");
  if (!Array.isArray(kwargsList) || kwargsList.length !== ids.length)
    throw new ImportLineError("kwargs", "expected one kwargs object per instruction id");
  const constraints = (ids as string[]).map((id, i) => {
    const raw = kwargsList[i];
    if (!isObject(raw)) throw new ImportLineError(`kwargs.${i}`, "expected an object");
    // IFBench-style files list every kwarg with nulls; only the set ones belong to the constraint
    const kwargs = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null));
    return { text: describe ? describe(id, kwargs) : id, checker: { id, kwargs } };
  });
  const meta: Json = { source: "ifeval" };
  if (line.key !== undefined) meta.key = line.key;
  const response = typeof line.response === "string" ? line.response : undefined;
  const instruction: Instruction = { description: prompt, constraints, prompt };
  return response !== undefined ? { kind: "sft", instruction, response, meta } : { kind: "instruction", instruction, meta };
}

/** The IOPO authors' LLaMA-Factory shape: conversations [x1, x2], chosen y1, rejected y2. */
function fromLlamaFactoryIopo(line: Json): DatasetRecord {
  const conversations = line.conversations;
  if (!Array.isArray(conversations) || conversations.length < 2)
    throw new ImportLineError("conversations", "expected two turns: x1 and x2");
  const system = typeof line.system === "string" ? line.system : undefined;
  return {
    kind: "iopo",
    x1: promptOnly(textOf(conversations[0], "conversations.0"), system),
    x2: promptOnly(textOf(conversations[1], "conversations.1"), system),
    y1: textOf(line.chosen, "chosen"),
    y2: textOf(line.rejected, "rejected"),
  };
}

/** TRL preference pairs: prompt, chosen, rejected (strings or chat messages). */
function fromTrlDpo(line: Json): DatasetRecord {
  const system = Array.isArray(line.prompt) ? (line.prompt as Json[]).find((m) => m.role === "system")?.content : undefined;
  return {
    kind: "dpo",
    prompt: promptOnly(textOf(line.prompt, "prompt", "user"), typeof system === "string" ? system : undefined),
    chosen: textOf(line.chosen, "chosen", "assistant"),
    rejected: textOf(line.rejected, "rejected", "assistant"),
  };
}

/** Our own record format, or bare {x1, y1, x2, y2} quadruples with prompt strings. */
function fromIopo(line: Json): DatasetRecord {
  if (typeof line.kind === "string") return line as unknown as DatasetRecord;
  for (const f of ["x1", "y1", "x2", "y2"]) if (line[f] === undefined) throw new ImportLineError(f, "missing");
  const instruction = (v: unknown, f: string) =>
    isObject(v) && typeof v.description === "string" ? (v as unknown as Instruction) : promptOnly(textOf(v, f, "user"));
  return {
    kind: "iopo",
    x1: instruction(line.x1, "x1"),
    y1: textOf(line.y1, "y1", "assistant"),
    x2: instruction(line.x2, "x2"),
    y2: textOf(line.y2, "y2", "assistant"),
  };
}

export interface ImportContext {
  describe?: DescribeChecker;
  /** Chinese labels of the taxonomy's dimensions (TRACE lines with other labels keep them in meta). */
  dimensionLabels?: ReadonlySet<string>;
}

export function convertLine(format: ImportFormat, value: unknown, context: ImportContext = {}): DatasetRecord {
  if (!isObject(value)) throw new ImportLineError("line", "expected a JSON object");
  switch (format) {
    case "trace":
      return fromTrace(value, context.dimensionLabels);
    case "ifeval":
      return fromIfeval(value, context.describe);
    case "llamafactory-iopo":
      return fromLlamaFactoryIopo(value);
    case "trl-dpo":
      return fromTrlDpo(value);
    case "iopo":
      return fromIopo(value);
  }
}
