import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { LlmError } from "./judge/llm/index.ts";
import { authenticate } from "./lib/auth.ts";
import { acceptJsonLike, corsFromEnv, limitBody } from "./lib/middleware.ts";
import { createRouter } from "./lib/openapi.ts";
import { problem, ProblemError } from "./lib/problem.ts";
import { docsRoutes } from "./routes/docs.ts";
import { benchmarkRoutes } from "./routes/benchmarks.ts";
import { cfbenchRoutes } from "./routes/cfbench.ts";
import { pipelineRoutes } from "./routes/pipelines.ts";
import { datasetRoutes } from "./routes/datasets.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { versionRoutes } from "./routes/versions.ts";
import { searchRoutes } from "./routes/search.ts";
import { statisticsRoutes } from "./routes/statistics.ts";
import { healthRoutes } from "./routes/health.ts";
import { judgeRoutes } from "./routes/judge.ts";
import { keyRoutes } from "./routes/keys.ts";
import { taxonomyRoutes } from "./routes/taxonomy.ts";
import { webRoutes } from "./web/routes.ts";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH"]);

export function buildApp() {
  const app = createRouter();

  app.use("*", requestId({ headerName: "x-request-id" }));
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "cross-origin" }));
  app.use("*", corsFromEnv);
  app.use("*", async (c, next) => (WRITE_METHODS.has(c.req.method) ? acceptJsonLike(c, next) : next()));
  app.use("*", limitBody);
  app.use("*", authenticate);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key from POST /v1/keys, or the ADMIN_TOKEN secret.",
  });

  app.route("/", healthRoutes);
  app.route("/", taxonomyRoutes);
  app.route("/", keyRoutes);
  app.route("/", judgeRoutes);
  app.route("/", datasetRoutes);
  app.route("/", versionRoutes);
  app.route("/", searchRoutes);
  app.route("/", statisticsRoutes);
  app.route("/", jobRoutes);
  app.route("/", benchmarkRoutes);
  app.route("/", cfbenchRoutes);
  app.route("/", pipelineRoutes);
  app.route("/", docsRoutes(app));
  app.route("/", webRoutes);

  app.notFound((c) => notFoundOrWrongMethod(c, app.routes));
  app.onError((error, c) => renderError(error, c));
  return app;
}

function renderError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ProblemError) {
    return problem(c, error.status, error.problemType, error.detail, error.errors, error.headers, error.extensions);
  }
  if (error instanceof LlmError && error.kind === "budget") {
    // a spent model-call budget (src/lib/spend.ts): which one, its limits and what is left
    const retryAfter = String(Math.ceil((error.options.retryAfterMs ?? 60_000) / 1000));
    return problem(c, 429, "too-many-requests", error.message, undefined, { "retry-after": retryAfter }, { budget: error.options.budget });
  }
  if (error instanceof HTTPException) {
    // Hono's validators throw 400 for unparseable JSON bodies.
    if (error.status === 400) {
      return problem(c, 400, "malformed-json", `The request body is not valid JSON: ${error.message}`, [
        { field: "body", message: error.message },
      ]);
    }
    if (error.status === 413) return problem(c, 413, "payload-too-large", error.message);
    if (error.status === 415) {
      return problem(c, 415, "unsupported-media-type", `Unsupported Content-Type: ${c.req.header("content-type") ?? "(none)"}.`, [
        { field: "header.content-type", message: "not accepted by this route" },
      ]);
    }
    const status = error.status >= 400 && error.status < 500 ? error.status : 500;
    return problem(c, status as 400, status === 500 ? "internal" : "bad-request", error.message);
  }
  console.error(`[${c.get("requestId")}]`, error);
  return problem(c, 500, "internal", "An unexpected error occurred; the request id identifies it in the logs.");
}

type RouteEntry = { method: string; path: string };

/** Distinguishes an unknown path (404) from a known path with the wrong method (405 + Allow). */
function notFoundOrWrongMethod(c: Context<AppEnv>, routes: ReadonlyArray<RouteEntry>): Response {
  const path = new URL(c.req.url).pathname;
  const allowed = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    if (routePattern(route.path).test(path)) allowed.add(route.method);
  }
  if (allowed.size > 0) {
    if (allowed.has("GET")) allowed.add("HEAD");
    allowed.add("OPTIONS");
    const allow = [...allowed].sort().join(", ");
    return problem(c, 405, "method-not-allowed", `${c.req.method} is not allowed on ${path}; use ${allow}.`, undefined, {
      allow,
    });
  }
  return problem(c, 404, "not-found", `No route matches ${c.req.method} ${path}.`);
}

const patternCache = new Map<string, RegExp>();
function routePattern(path: string): RegExp {
  let pattern = patternCache.get(path);
  if (!pattern) {
    const source = path
      .split("/")
      .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    // exact: the router does not match "/v1/health/" either, so it is a 404, not a 405
    pattern = new RegExp(`^${source}$`);
    patternCache.set(path, pattern);
  }
  return pattern;
}
