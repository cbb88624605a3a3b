/**
 * Tokenizer and chat template, loaded offline from a model folder's `tokenizer.json` and
 * `tokenizer_config.json` (@huggingface/tokenizers, @huggingface/jinja).
 *
 * A (prompt, response) pair is tokenized the way TRL and LLaMA-Factory do it: the chat template is
 * rendered once with the generation prompt (the prompt) and once with the assistant turn (the full
 * text); the response is the full text after the prompt, so it includes the end-of-turn token and
 * whatever the template puts after it. Both parts are encoded without adding special tokens (the
 * template already writes BOS where the model expects one).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";

export interface ChatMessage {
  role: "system" | "user" | "assistant" | string;
  content: string;
}

export class TokenizerError extends Error {
  override name = "TokenizerError";
}

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json is a string or an AddedToken object. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return undefined;
}

export class ChatTokenizer {
  private readonly tok: Tokenizer;
  private readonly template?: Template;
  readonly vocabSize: number;
  readonly eosToken?: string;
  readonly eosTokenId?: number;
  readonly padTokenId: number;
  readonly bosToken?: string;

  constructor(
    readonly tokenizerJson: Json,
    readonly tokenizerConfig: Json,
  ) {
    try {
      this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`cannot build the tokenizer from tokenizer.json: ${(e as Error).message}`);
    }
    const vocab = this.tok.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.eosToken = tokenText(tokenizerConfig.eos_token);
    this.bosToken = tokenText(tokenizerConfig.bos_token);
    this.eosTokenId = this.eosToken !== undefined ? this.tok.token_to_id(this.eosToken) : undefined;
    const pad = tokenText(tokenizerConfig.pad_token);
    this.padTokenId = (pad !== undefined ? this.tok.token_to_id(pad) : undefined) ?? this.eosTokenId ?? 0;
    let src = tokenizerConfig.chat_template as unknown;
    if (Array.isArray(src)) src = (src as { name: string; template: string }[]).find((t) => t.name === "default")?.template;
    if (typeof src === "string") {
      try {
        this.template = new Template(src);
      } catch (e) {
        throw new TokenizerError(`tokenizer_config.json: chat_template does not parse: ${(e as Error).message}`);
      }
    }
  }

  /** Load from a folder holding tokenizer.json (and, for chat, tokenizer_config.json). */
  static async fromDir(dir: string): Promise<ChatTokenizer> {
    const readJson = async (file: string, required: boolean): Promise<Json> => {
      const path = join(dir, file);
      if (!existsSync(path)) {
        if (required) throw new TokenizerError(`no ${file} in ${dir}`);
        return {};
      }
      try {
        return JSON.parse(await readFile(path, "utf8")) as Json;
      } catch (e) {
        throw new TokenizerError(`${path}: not valid JSON (${(e as Error).message})`);
      }
    };
    const cfg = await readJson("tokenizer_config.json", false);
    // a chat template may also live in its own file (newer transformers)
    if (cfg.chat_template === undefined && existsSync(join(dir, "chat_template.jinja")))
      cfg.chat_template = await readFile(join(dir, "chat_template.jinja"), "utf8");
    return new ChatTokenizer(await readJson("tokenizer.json", true), cfg);
  }

  get hasChatTemplate(): boolean {
    return !!this.template;
  }

  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[], skipSpecialTokens = false): string {
    return this.tok.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Render messages with the chat template. */
  renderChat(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    if (!this.template) throw new TokenizerError("tokenizer_config.json has no chat_template");
    const specials: Record<string, unknown> = {};
    for (const k of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const t = tokenText(this.tokenizerConfig[k]);
      if (t !== undefined) specials[k] = t;
    }
    try {
      return this.template.render({ ...specials, messages, add_generation_prompt: addGenerationPrompt });
    } catch (e) {
      throw new TokenizerError(`chat template failed: ${(e as Error).message}`);
    }
  }

  /** Prompt tokens (with the generation prompt) for a conversation ending in a user turn. */
  encodePrompt(messages: ChatMessage[]): number[] {
    return this.encode(this.renderChat(messages, true));
  }

  /**
   * Prompt and response tokens: the response is everything the template renders after the
   * generation prompt for the assistant turn (content, end-of-turn token, trailing text).
   */
  encodePair(messages: ChatMessage[], response: string): { prompt: number[]; response: number[] } {
    const prompt = this.renderChat(messages, true);
    const full = this.renderChat([...messages, { role: "assistant", content: response }], false);
    if (!full.startsWith(prompt))
      throw new TokenizerError(
        "the chat template renders the assistant turn in a way that does not extend the generation prompt; cannot separate prompt and response",
      );
    return { prompt: this.encode(prompt), response: this.encode(full.slice(prompt.length)) };
  }
}
