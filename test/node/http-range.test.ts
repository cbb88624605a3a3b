import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { noneMatchHits, parseRange, serveImmutable, type ByteRange } from "../../src/lib/http-range.ts";

describe("parseRange", () => {
  it("reads first-last, open-ended and suffix ranges, clamped to the body", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange(" bytes=90- ", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=90-1000", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
  });

  it("calls a range outside the body, empty or backwards unsatisfiable", () => {
    for (const header of ["bytes=100-", "bytes=100-200", "bytes=10-5", "bytes=-0"]) {
      expect(parseRange(header, 100), header).toBe("unsatisfiable");
    }
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
  });

  it("ignores what it does not serve: other units, several ranges, no numbers", () => {
    for (const header of ["items=0-9", "bytes=0-9,20-29", "bytes=-", "bytes=a-b", "0-9"]) {
      expect(parseRange(header, 100), header).toBeNull();
    }
  });
});

describe("noneMatchHits", () => {
  const etag = '"abc"';
  it("compares weakly: W/ tags match their strong form; * matches anything", () => {
    expect(noneMatchHits('"abc"', etag)).toBe(true);
    expect(noneMatchHits('W/"abc"', etag)).toBe(true);
    expect(noneMatchHits('"x", W/"abc"', etag)).toBe(true);
    expect(noneMatchHits("*", etag)).toBe(true);
    expect(noneMatchHits('"abcd", "ab"', etag)).toBe(false);
  });
});

describe("serveImmutable", () => {
  const body = new TextEncoder().encode("0123456789");
  const app = new Hono().get("/", (c) =>
    serveImmutable(c, {
      etag: '"tag"',
      size: body.byteLength,
      noun: "the body",
      headers: { "content-type": "text/plain" },
      stream: (range?: ByteRange) => new Blob([range ? body.subarray(range.start, range.end + 1) : body]).stream(),
    }),
  );
  const get = (headers: Record<string, string> = {}) => app.request("/", { headers });

  it("sends the whole body with its ETag, length and immutable caching", async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("0123456789");
    expect(res.headers.get("etag")).toBe('"tag"');
    expect(res.headers.get("content-length")).toBe("10");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(res.headers.get("content-type")).toBe("text/plain");
  });

  it("answers 304 to a matching If-None-Match, before any Range", async () => {
    const res = await get({ "if-none-match": 'W/"tag"', range: "bytes=0-1" });
    expect(res.status).toBe(304);
    expect(res.headers.get("etag")).toBe('"tag"');
    expect(await res.text()).toBe("");
  });

  it("sends a range as 206 when If-Range is absent or names this body, else the whole body", async () => {
    const part = await get({ range: "bytes=2-4" });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("234");
    expect(part.headers.get("content-range")).toBe("bytes 2-4/10");
    expect(part.headers.get("content-length")).toBe("3");
    expect((await get({ range: "bytes=7-", "if-range": '"tag"' })).status).toBe(206);
    const stale = await get({ range: "bytes=7-", "if-range": '"other"' });
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe("0123456789");
  });

  it("answers 416 with the body's size to an unsatisfiable range", async () => {
    const res = await get({ range: "bytes=10-" });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */10");
    const problem = (await res.json()) as { detail: string; errors: { field: string }[] };
    expect(problem.detail).toContain("the body's 10 bytes");
    expect(problem.errors[0]!.field).toBe("header.range");
  });
});
