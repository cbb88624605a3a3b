import { env, exports } from "cloudflare:workers";
import type { ProblemBody } from "@iopo/common";

export const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

/** Calls the Worker's own fetch handler (the full middleware chain) as a client would. */
const worker = (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return worker.fetch(new Request(`http://iopo.test${path}`, init));
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function expectProblem(res: Response, status: number) {
  const body = (await res.json()) as ProblemBody;
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(body)}`);
  if (!res.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(`problem content type missing: ${res.headers.get("content-type")}`);
  }
  if (body.status !== status || !body.type || !body.title || !body.detail) {
    throw new Error(`incomplete problem body: ${JSON.stringify(body)}`);
  }
  return body;
}

export async function createKey(scopes: string[], name = "test key"): Promise<{ id: string; key: string }> {
  const res = await postJson("/v1/keys", { name, scopes }, ADMIN);
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; key: string };
}

/** A response body as text without workerd's warning for non-text media types (NDJSON). */
export async function textOf(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}
