import type { OpenAPIHono } from "@hono/zod-openapi";
import { html, raw } from "hono/html";
import type { AppEnv } from "../env.ts";
import { createRouter } from "../lib/openapi.ts";
import { PROBLEM_TYPES, problemTypeUri } from "../lib/problem.ts";
import { API_TITLE, VERSION } from "../version.ts";

export const openApiConfig = {
  openapi: "3.1.0",
  info: {
    title: API_TITLE,
    version: VERSION,
    description:
      "Constraint-by-constraint instruction-following judge, TRACE/IOPO datasets and training shards. " +
      "Send `authorization: Bearer <key>`; every error is an RFC 9457 problem (`application/problem+json`).",
  },
};

type Doc = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;
type Json = Record<string, unknown>;

/**
 * `/openapi.json` (generated from the route definitions) and `/docs`, an API reference rendered
 * from the same document on the server: no script, no CDN, so it works offline.
 */
export function docsRoutes(app: OpenAPIHono<AppEnv>) {
  const router = createRouter();
  let cached: Doc | undefined;
  const document = () => (cached ??= app.getOpenAPI31Document(openApiConfig));

  router.get("/openapi.json", (c) => c.json(document()));
  router.get("/docs", (c) => {
    c.header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:");
    return c.html(renderReference(document()));
  });
  router.get("/", (c) => c.redirect("/docs", 302));
  return router;
}

const METHOD_ORDER = ["get", "post", "put", "patch", "delete"];

function renderReference(doc: Doc) {
  const byTag = new Map<string, { method: string; path: string; op: Json }[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHOD_ORDER) {
      const op = (item as Json)[method] as Json | undefined;
      if (!op) continue;
      const tag = ((op.tags as string[] | undefined) ?? ["Other"])[0]!;
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const schemas = (doc.components?.schemas ?? {}) as Record<string, Json>;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${doc.info.title} ${doc.info.version} — reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:960px;margin:0 auto;padding:24px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 24px;font-size:14px}
nav a{margin-right:14px}
h1{margin-top:0}h2{border-bottom:2px solid #333;padding-bottom:4px;margin-top:40px}
.op{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:16px 0}
.m{display:inline-block;min-width:64px;font-weight:700;text-transform:uppercase;font-family:monospace}
.get{color:#0a7}.post{color:#06c}.delete{color:#c22}.put,.patch{color:#a60}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f3f3f3;padding:8px;overflow:auto;border-radius:4px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.lock{font-size:12px;color:#a60}
</style>
</head>
<body>
<nav><a href="#top">${doc.info.title}</a>${raw([...byTag.keys()].map((t) => `<a href="#tag-${esc(t)}">${esc(t)}</a>`).join(""))}<a href="#problems">Errors</a><a href="#schemas">Schemas</a><a href="/openapi.json">openapi.json</a></nav>
<main id="top">
<h1>${doc.info.title} <small>${doc.info.version}</small></h1>
<p>${raw(inlineMarkdown(doc.info.description ?? ""))}</p>
${raw([...byTag.entries()].map(([tag, ops]) => renderTag(tag, ops)).join(""))}
<h2 id="problems">Errors</h2>
<p>Every error is <code>application/problem+json</code> (RFC 9457) with <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, <code>instance</code>, <code>request_id</code> and, for invalid input, <code>errors[]</code> naming each field (and line, for NDJSON). Every response carries <code>x-request-id</code>.</p>
<table><tr><th>type</th><th>title</th></tr>${raw(
    Object.entries(PROBLEM_TYPES)
      .map(
        ([slug, title]) =>
          `<tr id="problem-${slug}"><td><code>${esc(problemTypeUri(slug as keyof typeof PROBLEM_TYPES))}</code></td><td>${esc(title)}</td></tr>`,
      )
      .join(""),
  )}</table>
<h2 id="schemas">Schemas</h2>
${raw(
  Object.entries(schemas)
    .map(([name, schema]) => `<h3 id="schema-${esc(name)}">${esc(name)}</h3><pre>${esc(JSON.stringify(schema, null, 2))}</pre>`)
    .join(""),
)}
</main>
</body>
</html>`;
}

function renderTag(tag: string, ops: { method: string; path: string; op: Json }[]): string {
  return `<h2 id="tag-${esc(tag)}">${esc(tag)}</h2>${ops.map(renderOperation).join("")}`;
}

function renderOperation({ method, path, op }: { method: string; path: string; op: Json }): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
  const responses = (op.responses as Record<string, Json> | undefined) ?? {};
  const secured = Array.isArray(op.security) && op.security.length > 0;
  return `<div class="op" id="${esc(method)}-${esc(path)}">
<div><span class="m ${esc(method)}">${esc(method)}</span> <code>${esc(path)}</code> ${secured ? '<span class="lock">needs a key</span>' : ""}</div>
<p><strong>${inlineMarkdown(String(op.summary ?? ""))}</strong>${op.description ? `<br>${inlineMarkdown(String(op.description))}` : ""}</p>
${
  params.length
    ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th>what</th></tr>${params
        .map((p) => {
          // the description gets its own column, as prose; the schema keeps the rest
          const { description, ...schema } = (p.schema ?? {}) as Json;
          const what = String(p.description ?? description ?? "");
          return `<tr><td><code>${esc(String(p.name))}</code></td><td>${esc(String(p.in))}</td><td>${p.required ? "yes" : "no"}</td><td><code>${esc(JSON.stringify(schema))}</code></td><td>${inlineMarkdown(what)}</td></tr>`;
        })
        .join("")}</table>`
    : ""
}
${
  body
    ? Object.entries(body)
        .map(([type, media]) => `<p>Body <code>${esc(type)}</code></p><pre>${esc(JSON.stringify(media.schema ?? {}, null, 2))}</pre>`)
        .join("")
    : ""
}
<table><tr><th>status</th><th>meaning</th></tr>${Object.entries(responses)
    .map(([status, r]) => `<tr><td>${esc(status)}</td><td>${inlineMarkdown(String(r.description ?? ""))}</td></tr>`)
    .join("")}</table>
</div>`;
}

/** Inline code (`x`) and links to the web or this site ([text](https://…), [text](/…), [text](#…)). */
const INLINE_MARKDOWN = /`([^`]+)`|\[([^\]]+)\]\(((?:https?:\/\/|\/|#)[^)\s]*)\)/g;

/**
 * A description's inline Markdown as HTML, the way the route definitions write it: code spans and
 * links become elements, everything else is escaped text (so a stray `<` or an unclosed backtick
 * shows as itself).
 */
export function inlineMarkdown(text: string): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(INLINE_MARKDOWN)) {
    out += esc(text.slice(last, m.index));
    out += m[1] !== undefined ? `<code>${esc(m[1])}</code>` : `<a href="${esc(m[3]!)}">${inlineMarkdown(m[2]!)}</a>`;
    last = m.index + m[0].length;
  }
  return out + esc(text.slice(last));
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
