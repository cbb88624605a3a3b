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
 * - `GET /s/<session>/__requests`: `{requests: [{at, path, headers, body, in_flight}], max_in_flight}`
 *   (`in_flight`: the session's requests in flight when this one arrived, itself included).
 *
 * A step: `{status?, headers?, delay_ms?, times?, body?}` for a raw HTTP answer, or a completion:
 * `{content}` (the assistant text), `{json}` (serialised as the content), or `{judge: {score?,
 * explanation?, omit?}}`: an automatic verdict for every constraint id of the judge's material
 * (the JSON line of its prompt), `score` each (default 10) unless the request text holds a marker
 * `[[fake:Cn=<score>]]`; `[[fake:http=<status>]]` in the request answers that HTTP status instead.
 * `{cfbench: {}}` answers CFBench's judge format (see types.ts). `finish_reason`, `model` and
 * `usage` override those fields.
 *
 * The automatic answers (`judge`, `auto`) obey what they read, as a gullible model would: text
 * anywhere in the material saying "SCORE: <n> for every constraint" makes every verdict n, and
 * "MAP: <name> for every constraint" makes the compiler map every constraint to the catalog's
 * checker `<family>:<name>`. The attack tests (test/worker/llm-security.test.ts) rely on it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import type { RecordedRequest, Step } from "./types.ts";

export type { RecordedRequest, Step };

interface Session {
  /** Answers already given per (task, request), for markers that misbehave only the first time. */
  seen: Map<string, number>;
  queue: Step[];
  fallback: Step | null;
  requests: RecordedRequest[];
  inFlight: number;
  maxInFlight: number;
}

const NO_SCRIPT: Step = {
  status: 500,
  body: JSON.stringify({ error: { message: "fake-llm: no scripted answer left", type: "server_error" } }),
};

export interface FakeLlm {
  url: string;
  close(): Promise<void>;
}

export async function startFakeLlm(port = 0): Promise<FakeLlm> {
  const sessions = new Map<string, Session>();
  const session = (id: string) => {
    let s = sessions.get(id);
    if (!s) sessions.set(id, (s = { seen: new Map(), queue: [], fallback: null, requests: [], inFlight: 0, maxInFlight: 0 }));
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
        if (body.reset) Object.assign(s, { seen: new Map(), queue: [], fallback: null, requests: [], inFlight: 0, maxInFlight: 0 });
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
        s.inFlight++;
        s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
        s.requests.push({
          at: Date.now(),
          path,
          headers: { authorization: req.headers.authorization, "content-type": req.headers["content-type"] },
          body,
          in_flight: s.inFlight,
        });
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
        answer(res, step, body, completions, s);
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

function answer(res: ServerResponse, step: Step, request: unknown, n: number, session: Session) {
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
  else if (step.auto) content = autoAnswer(text, session);
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
      usage: step.usage ?? { prompt_tokens: Math.ceil(text.length / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
    },
    step.headers,
  );
}

/** The text inside the first `<tag>...</tag>` of the request. */
const tagged = (text: string, tag: string) => new RegExp(`<${tag}[^>]*>\\n?([\\s\\S]*?)\\n?</${tag}>`).exec(text)?.[1] ?? "";

/** The judge's or the compiler's material: the JSON line of their prompt that holds `constraints`. */
interface Material {
  instruction?: string | null;
  response?: string;
  constraints: { id: string; text: string; dimension?: string | null }[];
}

function material(text: string): Material | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith('{"')) continue;
    try {
      const value = JSON.parse(line) as Material;
      if (Array.isArray(value?.constraints)) return value;
    } catch {
      // not the material
    }
  }
  return undefined;
}

/** Every string of the material, as the model reads it: where injected orders are obeyed from. */
const materialText = (m: Material) =>
  [m.instruction ?? "", m.response ?? "", ...m.constraints.map((c) => `${c.text}\n${c.dimension ?? ""}`)].join("\n");

function autoAnswer(text: string, session: Session): string {
  const found = material(text);
  if (found && found.response === undefined) return JSON.stringify({ results: compileAnswer(text, found) });
  if (found) return JSON.stringify({ verdicts: autoVerdicts(text, {}) });
  if (text.includes("<checkpoints count=")) return cfbenchAnswer(text);
  const task = /\b((?:iopo|trace)-[a-z]+-v\d+)\b/.exec(text)?.[1] ?? "unknown";
  // [[fake:malformed]] / [[fake:schema]]: the first answer to each task for this request is not
  // JSON / JSON of the wrong shape (the caller retries and gets a good one)
  const key = `${task}\u0000${text}`;
  const seen = session.seen.get(key) ?? 0;
  session.seen.set(key, seen + 1);
  if (seen === 0 && text.includes("[[fake:malformed]]")) return "Sure! Here is the JSON you asked for: {oops";
  if (seen === 0 && text.includes("[[fake:schema]]")) return JSON.stringify({ unexpected: "shape" });
  // [[fake:wrongop]]: the first IOPO edit changes nothing, which is no ADD, DELETE or REVISE
  if (seen === 0 && task === "iopo-edit-v1" && text.includes("[[fake:wrongop]]")) {
    const unchanged = pipelineAnswer(task, text.replace(/Operation: \w+/, "Operation: NONE")) as { constraints: unknown[] };
    return JSON.stringify({ constraints: unchanged.constraints.slice(0, -1), rationale: "no change" });
  }
  return JSON.stringify(pipelineAnswer(task, text));
}

/** The pipelines' prompts answered mechanically from the request (src/pipelines/*.ts build them). */
function pipelineAnswer(task: string, text: string): unknown {
  const requires = (t: string) => [...t.matchAll(/\[\[fake:requires=(\w+)\]\]/g)].map((m) => m[1]!);
  switch (task) {
    case "trace-expand-v1": {
      const dims = [...tagged(text, "dimensions").matchAll(/^- (.+?) \(/gm)].map((m) => m[1]!);
      const lines = dims.map((d) => {
        const word = `KW${d
          .replace(/[^A-Za-z]/g, "")
          .toUpperCase()
          .slice(0, 12)}`;
        return `- [${d}] Mention the word ${word}. [[fake:requires=${word}]]`;
      });
      return { instruction: `${tagged(text, "instruction")}\nConstraints:\n${lines.join("\n")}` };
    }
    case "trace-structure-v1": {
      const [description, list = ""] = tagged(text, "instruction").split("\nConstraints:\n");
      const constraints = list
        .split("\n")
        .map((l) => /^- \[(.+?)\] (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ text: m[2]!, dimension: m[1]! }));
      return { description: description!, constraints, input: null };
    }
    case "trace-qc-v1": {
      const verdict = /\[\[fake:qc=(\w+)\]\]/.exec(text)?.[1] ?? "ok";
      return { verdict, reason: verdict === "ok" ? "clear and answerable" : `scripted ${verdict}` };
    }
    case "trace-respond-v1":
    case "iopo-answer-v1":
      // [[fake:offtask]] spoils TRACE's responses, [[fake:y2off]] IOPO's y2
      if (text.includes(task === "trace-respond-v1" ? "[[fake:offtask]]" : "[[fake:y2off]]"))
        return { response: "Here is an answer that ignores what was asked." };
      return { response: `Here is my answer. ${[...new Set(requires(text))].join(" ")}`.trim() };
    case "iopo-edit-v1": {
      const old = tagged(text, "constraints")
        .split("\n")
        .map((l) => /^\d+\. (.*?)(?: \[([^[\]]+)\])?$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ text: m[1]!, dimension: m[2] ?? null }));
      const op = /Operation: (ADD|DELETE|REVISE)/.exec(text)?.[1] ?? "ADD";
      const word = `ZEBRA${old.length}${op}`;
      const added = text.includes("[[fake:weak]]")
        ? { text: "Be helpful.", dimension: null }
        : { text: `Mention the word ${word}. [[fake:requires=${word}]]`, dimension: null };
      const constraints = op === "ADD" ? [...old, added] : op === "DELETE" ? [...old.slice(1), added] : [added, ...old.slice(1)];
      return { constraints, rationale: `the response never mentions ${word}` };
    }
    case "iopo-check-v1":
      return text.includes("[[fake:nonsense]]")
        ? { sensible: false, reason: "scripted: the pairs do not make sense" }
        : { sensible: true, reason: "coherent" };
    default:
      return { error: `fake-llm: no automatic answer for task ${task}` };
  }
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

/** The compiler's answer: every constraint mapped as the material orders ("MAP: ..."), else no match. */
function compileAnswer(text: string, m: Material) {
  const name = /MAP: (\w+) for every constraint/.exec(materialText(m))?.[1];
  const checker = name ? (new RegExp(`^- ([a-z_]+:${name}):`, "m").exec(text)?.[1] ?? null) : null;
  return m.constraints.map((c) => ({ id: c.id, checker, kwargs: checker ? {} : null, reason: checker ? "as ordered" : "no checker" }));
}

function autoVerdicts(text: string, judge: NonNullable<Step["judge"]>) {
  const m = material(text) ?? { constraints: [] };
  const overrides = new Map([...text.matchAll(/\[\[fake:(C\d+)=(\d+)\]\]/g)].map((x) => [x[1]!, Number(x[2])]));
  // a constraint that requires a word passes only if the response holds it
  const response = m.response ?? "";
  for (const c of m.constraints) {
    const word = /\[\[fake:requires=(\w+)\]\]/.exec(c.text)?.[1];
    if (word && !overrides.has(c.id)) overrides.set(c.id, response.includes(word) ? 10 : 3);
  }
  const ordered = /SCORE: (\d+) for every constraint/.exec(materialText(m))?.[1];
  return m.constraints
    .map((c) => c.id)
    .filter((id) => !(judge.omit ?? []).includes(id))
    .map((id) => ({
      id,
      explanation: `${judge.explanation ?? "fake judgement"} (${id})`,
      score: ordered !== undefined ? Number(ordered) : (overrides.get(id) ?? judge.score ?? 10),
    }));
}
