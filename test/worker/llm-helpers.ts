/** Helpers for the LLM judge tests: a fake-provider session per test and calls with env overrides. */
import { env } from "cloudflare:workers";
import app from "../../src/index.ts";
import type { Bindings } from "../../src/env.ts";
import { FakeLlmSession } from "../fake-llm/client.ts";

export { FakeLlmSession };

export const fakeLlm = () => new FakeLlmSession(env.FAKE_LLM_URL);

/**
 * Calls the Worker (the full middleware chain) with some bindings replaced: each test points
 * LLM_BASE_URL at its own fake-provider session, and some change retries or the provider.
 */
export function callWith(overrides: Partial<Bindings> & Record<string, unknown>, path: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(app.fetch(new Request(`http://iopo.test${path}`, init), { ...env, ...overrides }));
}

export function postWith(
  overrides: Partial<Bindings> & Record<string, unknown>,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return callWith(overrides, path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A string no other test uses, so cached verdicts never leak between tests. */
export const unique = (label: string) => `${label} #${crypto.randomUUID().slice(0, 8)}`;

export const verdictJson = (...verdicts: [score: number, explanation?: string][]) => ({
  verdicts: verdicts.map(([score, explanation], i) => ({ id: `C${i + 1}`, explanation: explanation ?? `explanation ${i + 1}`, score })),
});

/** What the judge or the compiler sent as material: the JSON line of its prompt (src/judge/llm/prompt.ts). */
export interface SentMaterial {
  instruction?: string | null;
  response?: string;
  constraints: { id: string; text: string; dimension?: string | null }[];
}

export function sentMaterial(userMessage: string): SentMaterial {
  const line = userMessage.split("\n").find((l) => l.startsWith('{"'));
  if (line === undefined) throw new Error(`no JSON material in the prompt: ${userMessage.slice(0, 200)}`);
  return JSON.parse(line) as SentMaterial;
}
