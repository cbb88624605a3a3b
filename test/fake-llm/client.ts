/** Scripting the fake LLM provider from a test (runs in workerd: fetch only). */
import type { RecordedRequest, Step } from "./types.ts";

export type { RecordedRequest, Step };

export interface ChatRequestBody {
  model: string;
  temperature: number;
  max_tokens?: number;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema: { name: string; strict: boolean; schema: Record<string, unknown> } };
}

export class FakeLlmSession {
  readonly id = crypto.randomUUID().replaceAll("-", "");

  constructor(readonly root: string) {}

  /** What LLM_BASE_URL should be for this session. */
  get baseUrl(): string {
    return `${this.root}/s/${this.id}/v1`;
  }

  async script(queue: Step[], fallback?: Step | null): Promise<void> {
    const res = await fetch(`${this.root}/s/${this.id}/__script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(fallback === undefined ? { queue } : { queue, fallback }),
    });
    if (!res.ok) throw new Error(`fake-llm script failed: ${res.status}`);
  }

  async requests(): Promise<{ requests: (RecordedRequest & { body: ChatRequestBody })[]; max_in_flight: number }> {
    const res = await fetch(`${this.root}/s/${this.id}/__requests`);
    return (await res.json()) as { requests: (RecordedRequest & { body: ChatRequestBody })[]; max_in_flight: number };
  }
}
