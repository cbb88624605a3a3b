import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { FieldError, ProblemBody } from "@iopo/common";

/**
 * RFC 9457 problem details. Every error the API returns has this shape, served as
 * `application/problem+json`; `errors` names each invalid field (and the line, for NDJSON bodies).
 * The shapes live with the API client in @iopo/common, which reads them back.
 */
export type { FieldError };

/** The problem types this API emits; their `type` URIs resolve to the reference page. */
export const PROBLEM_TYPES = {
  "bad-request": "Bad request",
  "malformed-json": "Malformed JSON",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  "not-found": "Not found",
  "method-not-allowed": "Method not allowed",
  conflict: "Conflict",
  "payload-too-large": "Payload too large",
  "range-not-satisfiable": "Range not satisfiable",
  "unsupported-media-type": "Unsupported media type",
  validation: "Validation failed",
  "too-many-requests": "Too many requests",
  "service-unavailable": "Service unavailable",
  internal: "Internal server error",
} as const;
export type ProblemType = keyof typeof PROBLEM_TYPES;

export const problemTypeUri = (type: ProblemType) => `/docs#problem-${type}`;

/** Thrown anywhere in a request; the app's error handler renders it. */
export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly problemType: ProblemType,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** RFC 9457 extension members (e.g. the `budget` of a 429), added to the body. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail);
    this.name = "ProblemError";
  }
}

export function problem(
  c: Context,
  status: ContentfulStatusCode,
  problemType: ProblemType,
  detail: string,
  errors?: FieldError[],
  headers?: Record<string, string>,
  extensions?: Record<string, unknown>,
): Response {
  const body: ProblemBody & Record<string, unknown> = {
    ...extensions,
    type: problemTypeUri(problemType),
    title: PROBLEM_TYPES[problemType],
    status,
    detail,
    instance: new URL(c.req.url).pathname,
    request_id: c.get("requestId"),
  };
  if (errors && errors.length > 0) body.errors = errors;
  return c.body(JSON.stringify(body), status, {
    "content-type": "application/problem+json",
    ...headers,
  });
}

/** Turns zod issues into field errors under a location prefix ("body", "query", "path"). */
export function zodIssuesToFieldErrors(
  location: string,
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  line?: number,
): FieldError[] {
  return issues.map((issue) => {
    const field = [location, ...issue.path.map(String)].join(".");
    return line === undefined ? { field, message: issue.message } : { field, message: issue.message, line };
  });
}
