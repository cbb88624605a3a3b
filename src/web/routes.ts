import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { createRouter } from "../lib/openapi.ts";
import { problem } from "../lib/problem.ts";

/**
 * The web app (README "Web app"): every page under /app is this one HTML shell; the client
 * (src/web/assets/app/static/, served as Workers Static Assets) reads the route from the URL and
 * renders it from the JSON API, sending the API key the user keeps in sessionStorage. Pages are
 * not server-rendered because a private dataset is readable only with that key, which a page
 * navigation does not carry.
 */

/** Nothing but this origin's own scripts, styles and API: no inline code, no CDN, no framing. */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>iopo</title>
<link rel="stylesheet" href="/app/static/app.css">
<script type="module" src="/app/static/app.js"></script>
<link rel="modulepreload" href="/app/static/dom.js">
<link rel="modulepreload" href="/app/static/api.js">
<link rel="modulepreload" href="/app/static/nav.js">
<link rel="modulepreload" href="/app/static/datasets.js">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<nav aria-label="Main"><a href="/app">Datasets</a> <a href="/app/judge">Judge</a> <a href="/app/jobs">Jobs</a> <a href="/docs">API</a></nav>
<form id="key-form" class="key">
<label for="api-key">API key</label>
<input id="api-key" name="key" type="password" autocomplete="off" placeholder="kept for this tab only">
<button type="submit">Use</button>
</form>
</header>
<main id="main" tabindex="-1"><p>Loading…</p><noscript>This app needs JavaScript; the API itself is at <a href="/docs">/docs</a>.</noscript></main>
</body>
</html>
`;

const page = (c: Context<AppEnv>) =>
  c.html(SHELL, 200, { "content-security-policy": APP_CSP, "cache-control": "no-cache", "referrer-policy": "no-referrer" });

export const webRoutes = createRouter()
  .get("/app", page)
  // a missing static file is a 404, not the shell
  .get("/app/static/*", (c) => problem(c, 404, "not-found", `No file ${new URL(c.req.url).pathname}.`))
  .get("/app/*", page);
