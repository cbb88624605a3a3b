/**
 * What generation needs from a model: config, fp32 weights in the trainer's layout, tokenizer and
 * stop tokens. `--model` is `tiny:<name>` (random init), a Hugging Face folder (config.json,
 * safetensors, tokenizer files; a trainer checkpoint is one), or a PEFT adapter folder
 * (adapter_config.json + adapter_model.safetensors), merged into its base on load.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { DecoderConfig } from "../model/config.ts";
import type { ModelWeights } from "../model/decoder.ts";
import { loadModel } from "../model/index.ts";
import { loadLoraAdapter, mergeLora } from "../model/weights.ts";
import type { ChatMessage, ChatTokenizer } from "../tokenizer/index.ts";

export interface GenerationModel {
  config: DecoderConfig;
  weights: ModelWeights;
  tokenizer: ChatTokenizer;
  source: string;
  /** Ids that end a response: the chat template's end-of-turn token and the eos ids. */
  stopTokens: number[];
}

export async function loadGenerationModel(spec: string, opts: { seed?: number; base?: string } = {}): Promise<GenerationModel> {
  const dir = spec.startsWith("tiny:") ? undefined : resolve(spec);
  if (dir && existsSync(join(dir, "adapter_config.json")) && !existsSync(join(dir, "config.json"))) {
    const cfg = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8")) as { base_model_name_or_path?: string };
    let base = opts.base ?? cfg.base_model_name_or_path;
    if (!base) throw new Error(`${spec}: an adapter without base_model_name_or_path; pass the base model (--base)`);
    if (!base.startsWith("tiny:") && !isAbsolute(base) && !existsSync(base)) base = resolve(dir, base);
    // a trainer checkpoint names the seed a tiny base was initialised with
    let seed = opts.seed;
    if (seed === undefined && existsSync(join(dir, "trainer_state.json"))) {
      const state = JSON.parse(await readFile(join(dir, "trainer_state.json"), "utf8")) as { options?: { seed?: unknown } };
      if (typeof state.options?.seed === "number") seed = state.options.seed;
    }
    const m = await loadModel(base, { seed });
    const { lora, weights } = await loadLoraAdapter(dir, m.config);
    const merged = mergeLora(m.config, m.weights, lora, weights);
    return {
      config: m.config,
      weights: merged,
      tokenizer: m.tokenizer,
      source: `${dir} (adapter on ${base})`,
      stopTokens: await stopTokensFor(m.tokenizer, m.config, base.startsWith("tiny:") ? undefined : base),
    };
  }
  const m = await loadModel(spec, { seed: opts.seed });
  return {
    config: m.config,
    weights: m.weights,
    tokenizer: m.tokenizer,
    source: m.source,
    stopTokens: await stopTokensFor(m.tokenizer, m.config, dir),
  };
}

/**
 * Stop ids: the token the chat template writes right after an assistant message's content (its
 * end-of-turn: `<|im_end|>`, `<|eot_id|>`, `</s>`...), the tokenizer's eos, config.json's and
 * generation_config.json's eos_token_id.
 */
export async function stopTokensFor(tok: ChatTokenizer, config: DecoderConfig, dir?: string): Promise<number[]> {
  const ids = new Set<number>();
  const add = (v: unknown) => {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) ids.add(v);
    else if (Array.isArray(v)) v.forEach(add);
  };
  const eot = endOfTurnToken(tok);
  if (eot !== undefined) ids.add(eot);
  add(tok.eosTokenId);
  add(config.eosTokenId);
  if (dir && existsSync(join(dir, "generation_config.json"))) {
    try {
      add((JSON.parse(await readFile(join(dir, "generation_config.json"), "utf8")) as { eos_token_id?: unknown }).eos_token_id);
    } catch {
      // an unreadable generation_config.json only loses its eos ids
    }
  }
  return [...ids].filter((id) => id < config.vocabSize);
}

/** The special token the chat template puts right after an assistant turn's content. */
export function endOfTurnToken(tok: ChatTokenizer): number | undefined {
  if (!tok.hasChatTemplate) return undefined;
  const probe = "Probe answer";
  try {
    const { response } = tok.encodePair([{ role: "user", content: "Probe question" }], probe);
    const body = tok.encode(probe);
    if (response.length <= body.length || body.some((t, i) => response[i] !== t)) return undefined;
    const next = response[body.length];
    const specials = new Set(
      ((tok.tokenizerJson.added_tokens as { id: number; special?: boolean }[] | undefined) ?? [])
        .filter((t) => t.special !== false)
        .map((t) => t.id),
    );
    return specials.has(next) ? next : undefined;
  } catch {
    return undefined;
  }
}

/** A prompt as the model sees it: a user message (with an optional system one) through the chat template. */
export function encodeChat(tok: ChatTokenizer, prompt: string | ChatMessage[], system?: string): number[] {
  const messages: ChatMessage[] = typeof prompt === "string" ? [{ role: "user", content: prompt }] : [...prompt];
  if (system !== undefined && !messages.some((m) => m.role === "system")) messages.unshift({ role: "system", content: system });
  return tok.hasChatTemplate ? tok.encodePrompt(messages) : tok.encode(messages.map((m) => m.content).join("\n"));
}
