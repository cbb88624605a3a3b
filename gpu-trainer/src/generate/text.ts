/** Text in, text out: chat-template the prompts, generate, decode. */
import type { ChatMessage } from "../tokenizer/index.ts";
import type { FinishReason, GenerateOptions, Generator } from "./generator.ts";
import { type GenerationModel, encodeChat } from "./model.ts";

/** A user prompt, or a whole conversation ending in a user turn. */
export type TextPrompt = string | { prompt?: string; messages?: ChatMessage[]; system?: string };

export interface TextGeneration {
  response: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export async function generateTexts(
  gen: Generator,
  model: Pick<GenerationModel, "tokenizer" | "stopTokens">,
  prompts: readonly TextPrompt[],
  opts: GenerateOptions = {},
): Promise<TextGeneration[]> {
  const tok = model.tokenizer;
  const ids = prompts.map((p) => {
    if (typeof p === "string") return encodeChat(tok, p);
    if (p.messages) return encodeChat(tok, p.messages, p.system);
    if (p.prompt !== undefined) return encodeChat(tok, p.prompt, p.system);
    throw new Error("a prompt needs `prompt` or `messages`");
  });
  const res = await gen.generate(ids, { padTokenId: tok.padTokenId, ...opts, stopTokens: opts.stopTokens ?? model.stopTokens });
  return res.map((r) => ({
    response: tok.decode(r.tokens, true),
    finishReason: r.finishReason,
    promptTokens: r.promptTokens,
    completionTokens: r.tokens.length,
  }));
}
