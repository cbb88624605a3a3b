import type { Context } from "hono";
import { problem } from "./problem.ts";

/**
 * GETs of an immutable body whose size and strong ETag are known before it is produced (a
 * version's shard): `If-None-Match` (304), `Range: bytes=` (206, 416) and `If-Range`, so an
 * interrupted download resumes (RFC 9110 13 and 14).
 */

/** Bytes start..end, both inclusive, as in `Content-Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

/** One `bytes=` range (the only kind resuming clients send); null = ignore the header. */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; `*` matches any. */
export function noneMatchHits(ifNoneMatch: string, etag: string): boolean {
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*");
}

export interface ImmutableBody {
  /** A strong ETag, quotes included. */
  etag: string;
  size: number;
  /** Names the body in a 416's detail, e.g. "the shard". */
  noun: string;
  /** Content-Type, Content-Disposition and the like, sent with 200 and 206. */
  headers: Record<string, string>;
  /** The body, or only the bytes of `range`; asked for only once the request is known to need it. */
  stream: (range?: ByteRange) => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>;
}

export async function serveImmutable(c: Context, body: ImmutableBody): Promise<Response> {
  const { etag, size } = body;
  // immutable: the body never changes under its URL
  const cacheControl = "public, max-age=31536000, immutable";
  const headers = { ...body.headers, etag, "accept-ranges": "bytes", "cache-control": cacheControl };
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch && noneMatchHits(ifNoneMatch, etag)) {
    return new Response(null, { status: 304, headers: { etag, "cache-control": cacheControl } });
  }
  const rangeHeader = c.req.header("range");
  const ifRange = c.req.header("if-range");
  // If-Range uses the strong comparison: a range of a body other than the client's is never sent.
  if (rangeHeader && (!ifRange || ifRange.trim() === etag)) {
    const range = parseRange(rangeHeader, size);
    if (range === "unsatisfiable") {
      return problem(
        c,
        416,
        "range-not-satisfiable",
        `The range "${rangeHeader}" lies outside ${body.noun}'s ${size} bytes (or ends before it starts).`,
        [{ field: "header.range", message: `expected bytes=first-last within 0-${size - 1}` }],
        { "content-range": `bytes */${size}`, etag },
      );
    }
    if (range) {
      return new Response(await body.stream(range), {
        status: 206,
        headers: {
          ...headers,
          "content-range": `bytes ${range.start}-${range.end}/${size}`,
          "content-length": String(range.end - range.start + 1),
        },
      });
    }
  }
  return new Response(await body.stream(), { status: 200, headers: { ...headers, "content-length": String(size) } });
}
