/**
 * `iopo-train generate`: answer a file of prompts with a model.
 *
 *   iopo-train generate --model <dir|checkpoint|tiny:name> --prompts prompts.jsonl --out out.jsonl
 *     [--temperature 0] [--top-p 1] [--max-new-tokens 256] [--seed 0] [--batch-size 8] [--device auto]
 *
 * A prompts line is a JSON string, or an object with `prompt` (text), `messages` (a chat ending in
 * a user turn) or `instruction` (a dataset instruction, rendered as the API renders prompts), and
 * an optional `system`. The output line is the input object with `response`, `finish_reason`,
 * `prompt_tokens` and `completion_tokens` added.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { ChatMessage } from "../tokenizer/index.ts";
import { type Instruction, renderPrompt } from "../eval/prompt.ts";
import { ndjsonLines } from "@iopo/common";
import { InputError, choiceOption, numberOption, parseCommandArgs, requireOptions, stringOptions } from "@iopo/common/cli";
import { DEVICES, createEngine } from "@iopo/graph";
import { Generator } from "./generator.ts";
import { loadGenerationModel } from "./model.ts";
import { type TextPrompt, generateTexts } from "./text.ts";

export const generateUsage = `Usage: iopo-train generate --model <dir|checkpoint|tiny:name> --prompts <file.jsonl> --out <file.jsonl> [options]
  Answers every prompt with KV-cache decoding (batched, stops at the chat template's end of turn).
  <file.jsonl>: one prompt per line: a JSON string, or {"prompt": ...}, {"messages": [...]} or a dataset
  record's {"instruction": {...}}, with an optional "system". Output lines add response,
  finish_reason (stop|length), prompt_tokens and completion_tokens.
  --temperature <t>      0 (default) is greedy; > 0 samples
  --top-p <p>            nucleus mass when sampling (default 1)
  --max-new-tokens <n>   per prompt (default 256)
  --seed <n>             sampling seed (prompt i draws from stream i; default 0)
  --batch-size <n>       prompts decoded together (default 8)
  --device <d>           ${DEVICES.join("|")} (default auto: a GPU adapter, else onnxruntime-node)
  --model-seed <n>       random init of a tiny:<name> model (default 0)`;

function parsePromptLine(v: unknown, where: string): TextPrompt {
  if (typeof v === "string") return v;
  if (!v || typeof v !== "object") throw new InputError(`${where}: expected a string or an object`);
  const o = v as { prompt?: unknown; messages?: unknown; instruction?: unknown; system?: unknown };
  const system = typeof o.system === "string" ? o.system : undefined;
  if (typeof o.prompt === "string") return { prompt: o.prompt, system };
  if (Array.isArray(o.messages)) return { messages: o.messages as ChatMessage[], system };
  if (o.instruction && typeof o.instruction === "object") {
    const ins = o.instruction as Instruction;
    if (typeof ins.description !== "string" || !Array.isArray(ins.constraints))
      throw new InputError(`${where}: instruction needs description and constraints`);
    return { prompt: renderPrompt(ins), system: system ?? ins.system };
  }
  throw new InputError(`${where}: needs "prompt", "messages" or "instruction"`);
}

/** `iopo-train generate` (registered in src/cli/main.ts). */
export async function generateCommand(argv: string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    stringOptions(["model", "prompts", "out", "temperature", "top-p", "max-new-tokens", "seed", "batch-size", "device", "model-seed"]),
    generateUsage,
  )?.values;
  if (!values) return 0;
  requireOptions(values, ["model", "prompts", "out"]);
  const device = choiceOption(values, "device", DEVICES) ?? "auto";
  const opts = {
    temperature: numberOption(values, "temperature", { min: 0 }) ?? 0,
    topP: numberOption(values, "top-p", { min: 0, max: 1 }) ?? 1,
    maxNewTokens: numberOption(values, "max-new-tokens", { int: true, min: 1 }) ?? 256,
    seed: numberOption(values, "seed", { int: true, min: 0 }) ?? 0,
    batchSize: numberOption(values, "batch-size", { int: true, min: 1 }) ?? 8,
  };
  const file = values.prompts as string;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const inputs: { raw: unknown; prompt: TextPrompt }[] = [];
  for (const parsed of ndjsonLines(text)) {
    const where = `${file}:${parsed.line}`;
    if ("error" in parsed) throw new InputError(`${where}: ${parsed.error}`);
    inputs.push({ raw: parsed.value, prompt: parsePromptLine(parsed.value, where) });
  }
  if (!inputs.length) throw new InputError(`${file}: no prompts`);

  const model = await loadGenerationModel(values.model as string, { seed: numberOption(values, "model-seed", { int: true, min: 0 }) });
  const engine = await createEngine(device, (l) => process.stderr.write(`${l}\n`));
  process.stderr.write(`generate: ${inputs.length} prompts with ${model.source} on ${engine.description}\n`);
  const t0 = performance.now();
  let results;
  try {
    const gen = await Generator.create({ engine, config: model.config, weights: model.weights });
    try {
      results = await generateTexts(
        gen,
        model,
        inputs.map((x) => x.prompt),
        {
          ...opts,
          onProgress: (done, total) => process.stderr.write(`  ${done}/${total}\n`),
        },
      );
    } finally {
      await gen.dispose();
    }
  } finally {
    await engine.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const lines = inputs.map((x, i) => {
    const base = typeof x.raw === "string" ? { prompt: x.raw } : (x.raw as Record<string, unknown>);
    const r = results[i];
    return JSON.stringify({
      ...base,
      response: r.response,
      finish_reason: r.finishReason,
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
    });
  });
  await writeFile(values.out as string, lines.join("\n") + "\n");
  const tokens = results.reduce((s, r) => s + r.completionTokens, 0);
  process.stderr.write(
    `wrote ${values.out}: ${inputs.length} responses, ${tokens} tokens in ${seconds.toFixed(1)} s (${(tokens / seconds).toFixed(0)} tokens/s)\n`,
  );
  return 0;
}
