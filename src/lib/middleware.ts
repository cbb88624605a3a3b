import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { AppEnv } from "../env.ts";
import { ProblemError } from "./problem.ts";

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** 413 for bodies over MAX_BODY_BYTES, checked on the declared length and on the bytes read. */
export const limitBody: MiddlewareHandler<AppEnv> = (c, next) => {
  const configured = Number(c.env.MAX_BODY_BYTES);
  const maxSize = Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_MAX_BODY_BYTES;
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ProblemError(413, "payload-too-large", `The request body is larger than ${maxSize} bytes.`);
    },
  })(c, next);
};

/** Media types a request body may have; individual routes narrow this further with `acceptBody`. */
export const JSON_TYPES = ["application/json"] as const;
export const NDJSON_TYPES = ["application/x-ndjson", "application/jsonl", "application/ndjson"] as const;

const mediaType = (header: string | undefined) => header?.split(";")[0]?.trim().toLowerCase() ?? "";

/** The request body's media type, lower-cased, without parameters ("" when absent). */
export const requestMediaType = (c: Context<AppEnv>) => mediaType(c.req.header("content-type"));

/** The body as UTF-8 text (workerd warns when `.text()` reads an NDJSON body). */
export async function bodyText(c: Context<AppEnv>): Promise<string> {
  return new TextDecoder().decode(await c.req.arrayBuffer());
}

const hasBody = (headers: Headers) => {
  const length = headers.get("content-length");
  return headers.has("transfer-encoding") || (length !== null && length !== "0");
};

/** Route guard: 415 unless the body (if any) is one of `types`. */
export function acceptBody(...types: string[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!hasBody(c.req.raw.headers) && !c.req.header("content-type")) {
      return next(); // no body: the schema decides whether one was required
    }
    const type = mediaType(c.req.header("content-type"));
    if (!types.includes(type)) {
      throw new ProblemError(
        415,
        "unsupported-media-type",
        `Content-Type must be ${types.join(" or ")}${type ? `, not ${type}` : ""}.`,
        [{ field: "header.content-type", message: `expected ${types.join(" or ")}` }],
        { "accept-post": types.join(", ") },
      );
    }
    return next();
  };
}

/** Default guard for every write: a body must be JSON or NDJSON. */
export const acceptJsonLike = acceptBody(...JSON_TYPES, ...NDJSON_TYPES);

export const corsFromEnv: MiddlewareHandler<AppEnv> = (c, next) => {
  const allowed = (c.env.CORS_ORIGINS ?? "*")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return cors({
    origin: allowed.includes("*") ? "*" : allowed,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    // every request header the API reads, and every response header a client acts on
    allowHeaders: ["authorization", "content-type", "range", "if-range", "if-none-match", "x-request-id"],
    exposeHeaders: ["x-request-id", "etag", "content-range", "accept-ranges", "content-length", "retry-after", "allow"],
    maxAge: 86400,
  })(c, next);
};
