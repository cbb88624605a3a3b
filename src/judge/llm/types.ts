/**
 * The LLM judge's contracts. Everything under src/judge/llm is pure TypeScript: the only platform
 * API used directly is `fetch` (and Web Crypto for cache keys); the Workers AI binding and D1
 * arrive through the small interfaces declared here and in cache.ts.
 */

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A JSON Schema the provider is asked to constrain its answer to (when it supports that). */
export interface ResponseSchema {
  name: string;
  schema: Record<string, unknown>;
  /** OpenAI's `strict` structured-output mode (every object closed, every property required). */
  strict: boolean;
}

export interface CompletionRequest {
  messages: ChatMessage[];
  schema?: ResponseSchema;
  maxTokens?: number;
  /** Aborted when the attempt times out. */
  signal: AbortSignal;
}

/** Tokens one call spent, as the provider's `usage` field reports them. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface Completion {
  /** The assistant message's text. */
  content: string;
  /** The model that answered, as the provider reports it (else the configured one). */
  model: string;
  /** The provider's `usage`, when it reports one. */
  usage?: TokenUsage;
}

/** One chat-completion backend. Implementations throw `LlmError` for every failure. */
export interface LlmProvider {
  /** "openai" or "workers-ai". */
  readonly kind: string;
  /** Identity used in cache keys: kind plus endpoint (two endpoints serving "gpt-4o" may differ). */
  readonly id: string;
  readonly model: string;
  complete(request: CompletionRequest): Promise<Completion>;
}

/** The Workers AI binding (`[ai] binding = "AI"`), as far as the judge uses it. */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}
