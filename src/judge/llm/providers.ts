import { LlmError, parseRetryAfter } from "./errors.ts";
import type { AiBinding, Completion, CompletionRequest, LlmProvider, TokenUsage } from "./types.ts";

const snippet = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Whether an error is the abort of `signal` (our timeout). */
function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError"));
}

/**
 * Any OpenAI-compatible `POST {baseUrl}/chat/completions` (OpenAI, Azure-style gateways, vLLM,
 * llama.cpp, Ollama, OpenRouter, Cloudflare AI Gateway, ...). Temperature 0. With `jsonSchema`,
 * sends `response_format: {type: "json_schema", json_schema: {name, strict, schema}}`; without, the
 * answer is parsed and validated all the same (the prompt asks for JSON).
 */
export function openAiCompatibleProvider(options: {
  baseUrl: string;
  model: string;
  apiKey?: string;
  jsonSchema: boolean;
  fetch?: typeof fetch;
}): LlmProvider {
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const doFetch = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  return {
    kind: "openai",
    id: `openai:${options.baseUrl.replace(/\/+$/, "")}`,
    model: options.model,
    async complete(request: CompletionRequest): Promise<Completion> {
      const body: Record<string, unknown> = {
        model: options.model,
        messages: request.messages,
        temperature: 0,
      };
      if (request.maxTokens) body.max_tokens = request.maxTokens;
      if (options.jsonSchema && request.schema) {
        body.response_format = {
          type: "json_schema",
          json_schema: { name: request.schema.name, strict: request.schema.strict, schema: request.schema.schema },
        };
      }
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
      let res: Response;
      let text: string;
      try {
        res = await doFetch(endpoint, { method: "POST", headers, body: JSON.stringify(body), signal: request.signal });
        text = await res.text();
      } catch (error) {
        if (isAbort(error, request.signal)) throw new LlmError("timeout", "the LLM provider did not answer in time");
        throw new LlmError("network", `the LLM provider could not be reached: ${(error as Error).message}`);
      }
      if (!res.ok) {
        throw new LlmError("http", `the LLM provider answered HTTP ${res.status}: ${snippet(text)}`, {
          status: res.status,
          retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
        });
      }
      let payload: {
        model?: unknown;
        usage?: unknown;
        choices?: { message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }[];
      };
      try {
        payload = JSON.parse(text);
      } catch {
        throw new LlmError("malformed", `the LLM provider's HTTP body is not JSON: ${snippet(text, 120)}`);
      }
      const choice = payload?.choices?.[0];
      const content = choice?.message?.content;
      if (typeof content !== "string") {
        const refusal = choice?.message?.refusal;
        throw new LlmError(
          "malformed",
          typeof refusal === "string"
            ? `the model refused: ${snippet(refusal)}`
            : "the provider's answer has no choices[0].message.content",
        );
      }
      if (choice?.finish_reason === "length") {
        throw new LlmError("malformed", "the model's answer was cut off at the token limit (finish_reason: length)");
      }
      const usage = tokenUsage(payload.usage, request, content);
      return {
        content,
        model: typeof payload.model === "string" && payload.model ? payload.model : options.model,
        ...(usage ? { usage } : {}),
      };
    },
  };
}

/**
 * The Workers AI binding: `env.AI.run(model, {messages, temperature: 0, max_tokens, response_format})`.
 * Workers AI's json_schema mode takes the schema itself. The binding takes no abort signal, so the
 * timeout races it (the call keeps running on Cloudflare's side, but the judgement moves on).
 */
export function workersAiProvider(options: { binding: AiBinding; model: string; jsonSchema: boolean }): LlmProvider {
  return {
    kind: "workers-ai",
    id: "workers-ai",
    model: options.model,
    async complete(request: CompletionRequest): Promise<Completion> {
      const inputs: Record<string, unknown> = { messages: request.messages, temperature: 0 };
      if (request.maxTokens) inputs.max_tokens = request.maxTokens;
      if (options.jsonSchema && request.schema) inputs.response_format = { type: "json_schema", json_schema: request.schema.schema };
      let output: unknown;
      try {
        output = await raceAbort(options.binding.run(options.model, inputs), request.signal);
      } catch (error) {
        if (error instanceof LlmError) throw error;
        if (isAbort(error, request.signal)) throw new LlmError("timeout", "Workers AI did not answer in time");
        const message = (error as Error)?.message ?? String(error);
        // the binding reports rate limits and capacity errors in its message
        const status = /\b429\b|rate limit|capacity/i.test(message) ? 429 : undefined;
        throw new LlmError(status ? "http" : "network", `Workers AI failed: ${snippet(message)}`, status ? { status } : {});
      }
      const content = workersAiContent(output);
      if (content === undefined) throw new LlmError("malformed", "Workers AI returned no `response` text");
      const usage = tokenUsage((output as { usage?: unknown } | null)?.usage, request, content);
      return { content, model: options.model, ...(usage ? { usage } : {}) };
    },
  };
}

/**
 * Most tokens one call may report per field: more than any model's context, so a larger figure is
 * a provider's error, capped so that sums (a job's usage, a caller's spend) stay finite integers.
 */
export const TOKEN_USAGE_MAX = 10_000_000;

/** Tokens of a text when the provider does not say: about 4 characters a token. */
export const estimatedTokens = (chars: number) => Math.ceil(chars / 4);

/**
 * The OpenAI-style `usage` object (Workers AI reports the same fields), validated before anything
 * sums it: a count is a non-negative integer of at most TOKEN_USAGE_MAX (larger ones, Infinity
 * included, are capped; fractions rounded); a field that is no count at all (a string, NaN,
 * negative) is estimated from the text instead. Undefined when the provider reports no usage.
 */
function tokenUsage(value: unknown, request: CompletionRequest, content: string): TokenUsage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown };
  if (u.prompt_tokens === undefined && u.completion_tokens === undefined) return undefined;
  const count = (v: unknown, estimate: () => number) =>
    typeof v === "number" && v >= 0 ? Math.min(Math.round(v), TOKEN_USAGE_MAX) : Math.min(estimate(), TOKEN_USAGE_MAX);
  return {
    prompt_tokens: count(u.prompt_tokens, () => estimatedTokens(request.messages.reduce((n, m) => n + m.content.length, 0))),
    completion_tokens: count(u.completion_tokens, () => estimatedTokens(content.length)),
  };
}

function workersAiContent(output: unknown): string | undefined {
  if (typeof output === "string") return output;
  if (output === null || typeof output !== "object") return undefined;
  const o = output as { response?: unknown; choices?: { message?: { content?: unknown } }[] };
  if (typeof o.response === "string") return o.response;
  // in JSON mode some models hand back the parsed object
  if (o.response !== null && typeof o.response === "object") return JSON.stringify(o.response);
  const content = o.choices?.[0]?.message?.content;
  return typeof content === "string" ? content : undefined;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new LlmError("timeout", "Workers AI did not answer in time"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new LlmError("timeout", "Workers AI did not answer in time"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
