/**
 * A fake LLM provider for the tests: a real HTTP server on 127.0.0.1 that speaks the OpenAI chat
 * completions protocol (`POST /v1/chat/completions`) and plays scripted answers. It never calls a
 * real model.
 *
 * Sessions keep tests apart: everything under `/s/<session>/` has its own script and request log
 * (`/v1/...` without a prefix is session "default"), so a test points LLM_BASE_URL at
 * `<url>/s/<session>/v1` and scripts that session alone.
 *
 * Control endpoints (per session):
 * - `POST /s/<session>/__script` `{queue?: Step[], fallback?: Step | null, reset?: boolean}`: appends
 *   steps to the queue (each answers one chat request, in order); `fallback` answers once the queue
 *   is empty (default: HTTP 500 "no scripted answer left").
 * - `GET /s/<session>/__requests`: `{requests: [{at, path, headers, body}], max_in_flight}`.
 *
 * A step: `{status?, headers?, delay_ms?, times?, body?}` for a raw HTTP answer, or a completion:
 * `{content}` (the assistant text), `{json}` (serialised as the content), or `{judge: {score?,
 * explanation?, omit?}}`: an automatic verdict for every `<constraint id="Cn">` in the request,
 * `score` each (default 10) unless the request text holds a marker `[[fake:Cn=<score>]]`;
 * `[[fake:http=<status>]]` in the request answers that HTTP status instead. `{cfbench: {}}` answers
 * CFBench's judge format (see types.ts). `finish_reason` and `model` override those fields.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import type { RecordedRequest, Step } from "./types.ts";

export type { RecordedRequest, Step };

interface Session {
  queue: Step[];
  fallback: Step | null;
  requests: RecordedRequest[];
  inFlight: number;
  maxInFlight: number;
}

const NO_SCRIPT: Step = { status: 500, body: JSON.stringify({ error: { message: "fake-llm: no scripted answer left", type: "server_error" } }) };

export interface FakeLlm {
  url: string;
  close(): Promise<void>;
}

export async function startFakeLlm(port = 0): Promise<FakeLlm> {
  const sessions = new Map<string, Session>();
  const session = (id: string) => {
    let s = sessions.get(id);
    if (!s) sessions.set(id, (s = { queue: [], fallback: null, requests: [], inFlight: 0, maxInFlight: 0 }));
    return s;
  };
  let completions = 0;

  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const match = /^\/s\/([A-Za-z0-9_-]{1,100})(\/.*)$/.exec(url.pathname);
      const sid = match ? match[1]! : "default";
      const path = match ? match[2]! : url.pathname;
      const s = session(sid);
      const raw = await readBody(req);

      if (path === "/__script" && req.method === "POST") {
        const body = JSON.parse(raw || "{}") as { queue?: Step[]; fallback?: Step | null; reset?: boolean };
        if (body.reset) Object.assign(s, { queue: [], fallback: null, requests: [], inFlight: 0, maxInFlight: 0 });
        for (const step of body.queue ?? []) for (let i = 0; i < (step.times ?? 1); i++) s.queue.push(step);
        if (body.fallback !== undefined) s.fallback = body.fallback;
        return send(res, 200, { queued: s.queue.length });
      }
      if (path === "/__requests" && req.method === "GET") {
        return send(res, 200, { requests: s.requests, max_in_flight: s.maxInFlight });
      }
      if (path === "/v1/chat/completions" && req.method === "POST") {
        let body: unknown = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          // recorded as text
        }
        s.requests.push({
          at: Date.now(),
          path,
          headers: { authorization: req.headers.authorization, "content-type": req.headers["content-type"] },
          body,
        });
        s.inFlight++;
        s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
        let done = false;
        const finish = () => {
          if (!done) {
            done = true;
            s.inFlight--;
          }
        };
        res.on("close", finish);
        const step = s.queue.shift() ?? s.fallback ?? NO_SCRIPT;
        if (step.delay_ms) await new Promise((r) => setTimeout(r, step.delay_ms));
        if (res.destroyed || res.writableEnded) return finish(); // the client gave up (timeout)
        completions++;
        answer(res, step, body, completions);
        return;
      }
      send(res, 404, { error: { message: `fake-llm: no route ${req.method} ${path}` } });
    } catch (error) {
      send(res, 500, { error: { message: `fake-llm: ${(error as Error).message}` } });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake-llm: no TCP address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

/** All the text of a chat request's messages. */
function requestText(body: unknown): string {
  const messages = (body as { messages?: { content?: unknown }[] })?.messages ?? [];
  return messages.map((m) => (typeof m.content === "string" ? m.content : "")).join("\n");
}

function answer(res: ServerResponse, step: Step, request: unknown, n: number) {
  const text = requestText(request);
  if (step.judge) {
    const http = /\[\[fake:http=(\d{3})\]\]/.exec(text);
    if (http) return send(res, Number(http[1]), { error: { message: `fake-llm: scripted HTTP ${http[1]}` } });
  }
  if (step.body !== undefined || (step.status !== undefined && step.status !== 200)) {
    return send(res, step.status ?? 200, step.body ?? { error: { message: `fake-llm: scripted HTTP ${step.status}` } }, step.headers);
  }
  let content: string;
  if (step.content !== undefined) content = step.content;
  else if (step.json !== undefined) content = JSON.stringify(step.json);
  else if (step.judge) content = JSON.stringify({ verdicts: autoVerdicts(text, step.judge) });
  else if (step.cfbench) content = cfbenchAnswer(text);
  else content = "";
  const model = step.model ?? ((request as { model?: unknown })?.model as string | undefined) ?? "fake";
  send(
    res,
    200,
    {
      id: `chatcmpl-fake-${n}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: step.finish_reason ?? "stop" }],
      usage: { prompt_tokens: Math.ceil(text.length / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
    },
    step.headers,
  );
}

function cfbenchAnswer(text: string): string {
  if (text.includes("[[fake:garbled]]")) return "All checkpoints look fine to me.";
  const block = /<checkpoints count="\d+">\n([\s\S]*?)\n<\/checkpoints>/.exec(text);
  if (!block) return "no checkpoints found";
  return block[1]!
    .split("\n\n")
    .map((checkpoint) => `${checkpoint}\t${checkpoint.includes("[[fake:0]]") ? 0 : 1}`)
    .join("\n\n");
}

function autoVerdicts(text: string, judge: NonNullable<Step["judge"]>) {
  const ids = [...new Set([...text.matchAll(/<constraint id="(C\d+)"/g)].map((m) => m[1]!))];
  const overrides = new Map([...text.matchAll(/\[\[fake:(C\d+)=(\d+)\]\]/g)].map((m) => [m[1]!, Number(m[2])]));
  return ids
    .filter((id) => !(judge.omit ?? []).includes(id))
    .map((id) => ({
      id,
      explanation: `${judge.explanation ?? "fake judgement"} (${id})`,
      score: overrides.get(id) ?? judge.score ?? 10,
    }));
}
