/**
 * The shared API client against a real HTTP server on 127.0.0.1: requests carry the key and their
 * body type, refusals become one ApiError with the problem's status, detail and field errors, and
 * retries are bounded (Retry-After honoured on 429/409/503, backoff on transient failures of
 * idempotent requests only).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, ApiError } from "@iopo/common";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

let server: Server;
let base: string;
let seen: Seen[] = [];
/** The answers to give, in order; the last one repeats. */
let answers: ((res: ServerResponse) => void)[] = [];

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: ServerResponse) => {
    res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
const problem = (status: number, detail: string, errors?: unknown[], headers: Record<string, string> = {}) =>
  json(status, { type: "/docs#problem-x", title: "x", status, detail, ...(errors ? { errors } : {}) }, headers);

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() });
      const answer = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  seen = [];
  answers = [];
});

describe("ApiClient", () => {
  it("sends the key and JSON or NDJSON bodies, and parses the JSON answer", async () => {
    answers = [json(200, { ok: 1 })];
    const api = new ApiClient(`${base}/`, { key: "iopo_k" });
    expect(await api.postJson("/v1/x", { a: 1 })).toEqual({ ok: 1 });
    expect(await api.postNdjson("/v1/y", [{ a: 1 }, { b: 2 }])).toEqual({ ok: 1 });
    expect(await api.getJson("/v1/z")).toEqual({ ok: 1 });
    expect(seen.map((s) => [s.method, s.url, s.headers["content-type"], s.body])).toEqual([
      ["POST", "/v1/x", "application/json", '{"a":1}'],
      ["POST", "/v1/y", "application/x-ndjson", '{"a":1}\n{"b":2}\n'],
      ["GET", "/v1/z", undefined, ""],
    ]);
    expect(seen.every((s) => s.headers.authorization === "Bearer iopo_k")).toBe(true);
    answers = [json(200, {})];
    await new ApiClient(base).getJson("/v1/anonymous");
    expect(seen.at(-1)!.headers.authorization).toBeUndefined();
  });

  it("turns a problem document into one ApiError with status, detail and field errors", async () => {
    answers = [problem(422, "1 line is invalid", [{ line: 2, field: "body.id", message: "expected a string" }])];
    const error = await new ApiClient(base).postNdjson("/v1/records", [{}, {}]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect([e.status, e.detail, e.fields]).toEqual([
      422,
      "1 line is invalid",
      [{ line: 2, field: "body.id", message: "expected a string" }],
    ]);
    expect(e.message).toBe("POST /v1/records: 422 1 line is invalid (line 2: body.id: expected a string)");
    expect(e.summary("batch line ")).toBe("1 line is invalid (batch line 2: body.id: expected a string)");
    expect(seen).toHaveLength(1);
  });

  it("keeps the start of a body that is not a problem document as the detail", async () => {
    answers = [
      (res) => {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end("plain refusal");
      },
    ];
    const e = (await new ApiClient(base).getJson("/v1/x").catch((error: unknown) => error)) as ApiError;
    expect([e.status, e.detail, e.fields]).toEqual([400, "plain refusal", []]);
  });

  for (const status of [429, 409, 503]) {
    it(`honours Retry-After on ${status} and then succeeds`, async () => {
      answers = [problem(status, "come back later", undefined, { "retry-after": "1" }), json(200, { done: true })];
      // a POST that is not idempotent: the server said it did nothing and when to come back
      expect(await new ApiClient(base, { backoffMs: 1 }).postJson("/v1/write", { a: 1 })).toEqual({ done: true });
      expect(seen).toHaveLength(2);
      expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    });
  }

  it("gives up after its attempts, with the last refusal", async () => {
    answers = [problem(429, "slow down", undefined, { "retry-after": "0" })];
    const e = (await new ApiClient(base, { attempts: 3 }).getJson("/v1/x").catch((error: unknown) => error)) as ApiError;
    expect([e.status, e.detail]).toEqual([429, "slow down"]);
    expect(seen).toHaveLength(3);
  });

  it("does not wait longer than maxRetryAfterMs: the refusal is returned at once", async () => {
    answers = [problem(503, "maintenance", undefined, { "retry-after": "3600" })];
    const e = (await new ApiClient(base, { maxRetryAfterMs: 5000 }).getJson("/v1/x").catch((error: unknown) => error)) as ApiError;
    expect(e.status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it("a 409 or 503 without Retry-After is an answer, not retried", async () => {
    for (const status of [409, 503]) {
      seen = [];
      answers = [problem(status, "no")];
      const e = (await new ApiClient(base, { backoffMs: 1 }).getJson("/v1/x").catch((error: unknown) => error)) as ApiError;
      expect(e.status).toBe(status);
      expect(seen).toHaveLength(1);
    }
  });

  it("retries 5xx with backoff only when the request is idempotent", async () => {
    answers = [problem(500, "boom"), json(200, { ok: true })];
    expect(await new ApiClient(base, { backoffMs: 1 }).getJson("/v1/x")).toEqual({ ok: true });
    expect(seen).toHaveLength(2);

    seen = [];
    answers = [problem(502, "bad gateway"), json(200, { ok: true })];
    const e = (await new ApiClient(base, { backoffMs: 1 }).postJson("/v1/x", {}).catch((error: unknown) => error)) as ApiError;
    expect(e.status).toBe(502);
    expect(seen).toHaveLength(1);

    seen = [];
    answers = [problem(502, "bad gateway"), json(200, { ok: true })];
    expect(await new ApiClient(base, { backoffMs: 1 }).postJson("/v1/x", {}, { idempotent: true })).toEqual({ ok: true });
    expect(seen).toHaveLength(2);
  });

  it("an unreachable API is an ApiError without a status", async () => {
    const e = (await new ApiClient("http://127.0.0.1:9", { attempts: 2, backoffMs: 1 })
      .getJson("/v1/x")
      .catch((error: unknown) => error)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBeUndefined();
    expect(e.message).toMatch(/^cannot reach the API at http:\/\/127\.0\.0\.1:9: /);
    expect(e.detail).toBeTruthy();
  });

  it("streams a body as it arrives", async () => {
    answers = [
      (res) => {
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.write('{"line":1}\n');
        setTimeout(() => res.end('{"line":2}\n'), 20);
      },
    ];
    const stream = await new ApiClient(base).stream("/v1/datasets/d/versions/1/shards/0");
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(decoder.decode(read.value, { stream: true }));
    expect(chunks.join("")).toBe('{"line":1}\n{"line":2}\n');
  });

  it("pages every row of a dataset and creates a missing dataset once", async () => {
    answers = [
      json(200, { rows: [{ row_idx: 0, id: "a", row: {} }], next_after: 0 }),
      json(200, { rows: [{ row_idx: 1, id: "b", row: {} }], next_after: 1 }),
      json(200, { rows: [], next_after: null }),
    ];
    const api = new ApiClient(base);
    expect((await api.datasetRows("my set")).map((r) => r.id)).toEqual(["a", "b"]);
    expect(seen.map((s) => s.url)).toEqual([
      "/v1/datasets/my%20set/rows?after=-1&length=100",
      "/v1/datasets/my%20set/rows?after=0&length=100",
      "/v1/datasets/my%20set/rows?after=1&length=100",
    ]);

    seen = [];
    answers = [problem(404, "no such dataset"), problem(409, "exists")];
    await api.ensureDataset("d", { description: "x", visibility: "private" });
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ["GET", "/v1/datasets/d", ""],
      ["POST", "/v1/datasets", '{"name":"d","description":"x","visibility":"private"}'],
    ]);
  });
});
