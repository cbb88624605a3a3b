/**
 * Training examples: IOPO quadruples, DPO pairs and SFT records, parsed from the shapes the API's
 * shards and common trainers use, and expanded to what a method needs by the API's own expansion
 * (@iopo/common's formats: the paper's token-controlled baselines, DPO on (x1: y1 > y2) and
 * (x2: y2 > y1), SFT on (x1, y1), (x2, y2)), so the trainer's pairs are the API's dpo and sft lines.
 */
import {
  FORMAT_KINDS,
  pairAsExample,
  type PreferencePair,
  type Quadruple,
  quadrupleAsExamples,
  quadrupleAsPairs,
  type SftExample,
} from "@iopo/common";
import type { ChatMessage } from "../tokenizer/index.ts";
import type { Method } from "../train/losses.ts";

/** The prompt side of an example: the conversation up to (not including) the response. */
export type Conversation = ChatMessage[];

export type Sample =
  | ({ kind: "iopo" } & Quadruple<Conversation>)
  | ({ kind: "dpo" } & PreferencePair<Conversation>)
  | ({ kind: "sft" } & SftExample<Conversation>);

const asDpo = (pair: PreferencePair<Conversation>): Sample => ({ kind: "dpo", ...pair });
const asSft = (example: SftExample<Conversation>): Sample => ({ kind: "sft", ...example });

export class DataError extends Error {
  override name = "DataError";
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A message in {role, content} (OpenAI/TRL) or {from, value} (ShareGPT/LLaMA-Factory) shape. */
function message(v: unknown, where: string): ChatMessage {
  if (!isObj(v)) throw new DataError(`${where}: expected a message object`);
  if (typeof v.content === "string" && typeof v.role === "string") return { role: v.role, content: v.content };
  if (typeof v.value === "string" && typeof v.from === "string") {
    const role = { human: "user", gpt: "assistant", system: "system", user: "user", assistant: "assistant" }[v.from] ?? v.from;
    return { role, content: v.value };
  }
  throw new DataError(`${where}: a message needs {role, content} or {from, value}`);
}

/** A prompt: a string (one user turn) or a list of messages; an optional system prompt first. */
function conversation(v: unknown, system: unknown, where: string): Conversation {
  const msgs: Conversation = [];
  if (typeof system === "string" && system !== "") msgs.push({ role: "system", content: system });
  if (typeof v === "string") msgs.push({ role: "user", content: v });
  else if (Array.isArray(v)) {
    if (!v.length) throw new DataError(`${where}: empty message list`);
    v.forEach((m, i) => msgs.push(message(m, `${where}[${i}]`)));
    if (msgs[msgs.length - 1].role === "assistant") throw new DataError(`${where}: the prompt must not end with an assistant turn`);
  } else if (isObj(v)) msgs.push(message(v, where));
  else throw new DataError(`${where}: expected a string or a list of messages`);
  return msgs;
}

/** A response: a string, one assistant message, or a list whose last message is the assistant's. */
function response(v: unknown, where: string): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    const m = message(last, `${where}[${v.length - 1}]`);
    if (m.role !== "assistant") throw new DataError(`${where}: the last message must be the assistant's`);
    return m.content;
  }
  if (isObj(v)) return message(v, where).content;
  throw new DataError(`${where}: expected a string or an assistant message`);
}

/**
 * Parse one JSON line: {x1, y1, x2, y2} (strings or messages), the LLaMA-Factory IOPO shape
 * {conversations: [x1, x2], chosen: y1, rejected: y2}, a DPO pair {prompt, chosen, rejected}, or
 * an SFT record {prompt, response | completion} / {messages: [..., assistant]}. `system` is optional
 * everywhere.
 */
export function parseSample(v: unknown, fallbackId: string): Sample {
  if (!isObj(v)) throw new DataError("expected a JSON object");
  const id = typeof v.id === "string" || typeof v.id === "number" ? String(v.id) : fallbackId;
  const sys = v.system;
  if ("x1" in v || "x2" in v) {
    for (const k of ["x1", "y1", "x2", "y2"]) if (!(k in v)) throw new DataError(`quadruple without "${k}"`);
    return {
      kind: "iopo",
      id,
      x1: conversation(v.x1, sys, "x1"),
      y1: response(v.y1, "y1"),
      x2: conversation(v.x2, sys, "x2"),
      y2: response(v.y2, "y2"),
    };
  }
  if (Array.isArray(v.conversations)) {
    const turns = v.conversations;
    if (turns.length !== 2) throw new DataError(`LLaMA-Factory IOPO lines need 2 human turns in "conversations", got ${turns.length}`);
    if (!("chosen" in v) || !("rejected" in v)) throw new DataError(`LLaMA-Factory IOPO line without "chosen"/"rejected"`);
    return {
      kind: "iopo",
      id,
      x1: conversation([turns[0]], sys, "conversations[0]"),
      y1: response(v.chosen, "chosen"),
      x2: conversation([turns[1]], sys, "conversations[1]"),
      y2: response(v.rejected, "rejected"),
    };
  }
  if ("chosen" in v || "rejected" in v) {
    for (const k of ["prompt", "chosen", "rejected"]) if (!(k in v)) throw new DataError(`DPO pair without "${k}"`);
    return {
      kind: "dpo",
      id,
      prompt: conversation(v.prompt, sys, "prompt"),
      chosen: response(v.chosen, "chosen"),
      rejected: response(v.rejected, "rejected"),
    };
  }
  if (Array.isArray(v.messages)) {
    const msgs = v.messages;
    if (msgs.length < 2) throw new DataError(`"messages" needs a prompt and an assistant turn`);
    return { kind: "sft", id, prompt: conversation(msgs.slice(0, -1), sys, "messages"), response: response(msgs.slice(-1), "messages") };
  }
  if ("prompt" in v && ("response" in v || "completion" in v)) {
    return { kind: "sft", id, prompt: conversation(v.prompt, sys, "prompt"), response: response(v.response ?? v.completion, "response") };
  }
  throw new DataError(
    "unrecognised line: expected {x1,y1,x2,y2}, {conversations,chosen,rejected}, {prompt,chosen,rejected}, {prompt,response} or {messages}",
  );
}

/** The examples a method trains on, from one sample (empty if the sample has nothing for it). */
export function expandForMethod(s: Sample, method: Method): Sample[] {
  if (method === "iopo" || method === "iopo-lite") {
    if (s.kind !== "iopo") throw new DataError(`${method} needs IOPO quadruples {x1, y1, x2, y2}; got a ${s.kind} record (${s.id})`);
    return [s];
  }
  if (method === "dpo") {
    if (s.kind === "dpo") return [s];
    if (s.kind === "iopo") return quadrupleAsPairs(s).map(asDpo);
    throw new DataError(`dpo needs preference pairs or quadruples; got an sft record (${s.id})`);
  }
  if (s.kind === "sft") return [s];
  if (s.kind === "dpo") return [asSft(pairAsExample(s))];
  return quadrupleAsExamples(s).map(asSft);
}

/** The API shard format a method reads. */
export const SHARD_FORMAT: Record<Method, "iopo" | "dpo" | "sft"> = { iopo: "iopo", "iopo-lite": "iopo", dpo: "dpo", sft: "sft" };

/** The record kinds each method trains on: those with lines in the format it reads (what expandForMethod turns into its examples). */
export const methodKinds = (method: Method): readonly string[] => FORMAT_KINDS[SHARD_FORMAT[method]];
