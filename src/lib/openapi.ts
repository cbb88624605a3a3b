import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ProblemSchema } from "@iopo/common/api";
import type { AppEnv } from "../env.ts";
import { problem, zodIssuesToFieldErrors } from "./problem.ts";

/**
 * Every router is made here so all of them share one validation hook: a schema violation in
 * the path, query or body becomes a 422 problem naming each field.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const location = result.target === "json" ? "body" : result.target === "param" ? "path" : result.target;
        return problem(
          c,
          422,
          "validation",
          `The request ${location} does not match the schema.`,
          zodIssuesToFieldErrors(location, result.error.issues),
        );
      }
    },
  });
}

/**
 * An integer query parameter in plain decimal, within [min, max]. `z.coerce.number()` would read
 * "0x10" as 16, "1e2" as 100 and "" as 0; a client that sends those has a bug worth a 422.
 */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?(0|[1-9][0-9]{0,15})$/, "a decimal integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** Standard error responses for route definitions (documentation only; behaviour is global). */
export function problemResponses(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, malformed or revoked API key",
    403: "The key lacks the required scope",
    404: "Not found",
    409: "Conflict",
    413: "Body over the size limit",
    415: "Unsupported content type",
    416: "Range not satisfiable",
    422: "The request does not match the schema",
    429: "Too many anonymous requests or failed authentications from this address; see Retry-After",
  };
  // every route that authenticates may answer 429 (rate limits on failed and anonymous use)
  const all = statuses.includes(401) && !statuses.includes(429) ? [...statuses, 429] : statuses;
  return Object.fromEntries(all.map((s) => [s, { description: descriptions[s] ?? "Error", content: problemContent }]));
}

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
