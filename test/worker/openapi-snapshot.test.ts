import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

// The API's contract, byte for byte. A refactor must leave `/openapi.json` as it was; a deliberate
// change to the API rewrites this file in the same commit (with the server from `npm start` up:
// `curl -s http://127.0.0.1:8787/openapi.json > test/worker/fixtures/openapi.json`) so the diff
// shows reviewers exactly what changed.
describe("the OpenAPI document", () => {
  it("is the committed contract, byte for byte", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const text = await res.text();
    // the structural diff first: it names the path that changed, where a byte diff of one long line would not
    expect(JSON.parse(text)).toEqual(JSON.parse(env.OPENAPI_CONTRACT));
    expect(text).toBe(env.OPENAPI_CONTRACT);
  });
});
