import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { convertLine } from "../../src/datasets/importers.ts";
import { sha256Hex } from "../../src/lib/auth.ts";
import { inlineMarkdown } from "../../src/routes/docs.ts";
import { VERSION } from "../../src/version.ts";
import { ADMIN, call, createKey, expectProblem, postJson } from "./helpers.ts";

describe("health", () => {
  it("reports version, D1 reachability and the applied migrations", async () => {
    const res = await call("/v1/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toMatch(/.+/);
    const body = (await res.json()) as { status: string; version: string; d1: { reachable: boolean; migrations_applied: number } };
    expect(body.status).toBe("ok");
    expect(body.version).toBe(VERSION);
    expect(body.d1.reachable).toBe(true);
    expect(body.d1.migrations_applied).toBe(env.TEST_MIGRATIONS.length);
    expect(body.d1.migrations_applied).toBeGreaterThanOrEqual(2);
  });

  it("says whether the reference datasets are seeded, counting what has arrived", async () => {
    type Seeding = {
      complete: boolean;
      datasets: { name: string; expected_records: number; records: number; versioned_records: number }[];
    };
    const seeding = async () => ((await (await call("/v1/health")).json()) as { reference_data: Seeding }).reference_data;
    const before = await seeding();
    expect(before.complete).toBe(false);
    expect(before.datasets.map((d) => [d.name, d.expected_records, d.records])).toEqual([
      ["trace-eval", 1042, 0],
      ["ifeval", 541, 0],
      ["ifbench", 300, 0],
    ]);

    expect((await postJson("/v1/datasets", { name: "ifeval", visibility: "public" }, ADMIN)).status).toBe(201);
    const records = env.IFEVAL_INPUT.split("\n")
      .filter(Boolean)
      .slice(0, 3)
      .map((line) => convertLine("ifeval", JSON.parse(line)));
    const imported = await postJson("/v1/datasets/ifeval/records", records, ADMIN);
    expect(imported.status, await imported.clone().text()).toBe(200);
    const partly = await seeding();
    expect(partly.complete).toBe(false);
    expect(partly.datasets.find((d) => d.name === "ifeval")).toMatchObject({ records: 3, versioned_records: 0 });
  });

  it("sets secure headers and CORS", async () => {
    const res = await call("/v1/health", { headers: { origin: "https://example.org" } });
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBeTruthy();
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const preflight = await call("/v1/keys", {
      method: "OPTIONS",
      headers: { origin: "https://example.org", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("lets a browser send every header the API reads (CORS preflight)", async () => {
    const preflight = await call("/v1/datasets/x/versions/1/shards/0", {
      method: "OPTIONS",
      headers: {
        origin: "https://example.org",
        "access-control-request-method": "GET",
        "access-control-request-headers": "range, if-range, if-none-match",
      },
    });
    const allowed = preflight.headers
      .get("access-control-allow-headers")!
      .split(",")
      .map((h) => h.trim().toLowerCase());
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "range", "if-range", "if-none-match"]));
  });

  it("404s a path with a trailing slash rather than refusing its method", async () => {
    const problem = await expectProblem(await call("/v1/health/"), 404);
    expect(problem.type).toBe("/docs#problem-not-found");
  });

  it("keeps a caller's request id", async () => {
    const res = await call("/v1/health", { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });
});

describe("taxonomy", () => {
  type Taxonomy = {
    types: {
      name: string;
      description: string;
      dimensions: { name: string; description: string; label_zh: string; eval_count: number }[];
    }[];
  };

  it("serves TRACE's 5 types and 26 dimensions from D1", async () => {
    const res = await call("/v1/taxonomy");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Taxonomy;
    expect(body.types.map((t) => t.name)).toEqual([
      "Content Constraint",
      "Situation Constraint",
      "Style Constraint",
      "Format Constraint",
      "Example Constraint",
    ]);
    expect(body.types.map((t) => t.dimensions.length)).toEqual([6, 7, 4, 7, 2]);
    const dimensions = body.types.flatMap((t) => t.dimensions);
    expect(dimensions).toHaveLength(26);
    expect(new Set(dimensions.map((d) => d.label_zh)).size).toBe(26);
    for (const t of body.types) expect(t.description.length).toBeGreaterThan(20);
    for (const d of dimensions) {
      expect(d.description.length).toBeGreaterThan(10);
      expect(d.label_zh).toMatch(/\p{Script=Han}/u);
    }
    const inclusion = dimensions.find((d) => d.name === "Inclusion Constraint")!;
    expect(inclusion.label_zh).toBe("包含约束");
    expect(inclusion.eval_count).toBe(999);
  });

  it("is stored in D1, not in code", async () => {
    await env.DB.prepare("UPDATE constraint_dimensions SET description = 'changed in D1' WHERE name = 'Theme Constraint'").run();
    const res = await call("/v1/taxonomy/Theme%20Constraint");
    expect(((await res.json()) as { description: string }).description).toBe("changed in D1");
  });

  it("finds one dimension by name, slug or Chinese label", async () => {
    for (const key of ["Tone%20and%20Style%20Constraint", "tone-and-style-constraint", encodeURIComponent("语气风格约束")]) {
      const res = await call(`/v1/taxonomy/${key}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { name: string; type: string };
      expect(body.name).toBe("Tone and Style Constraint");
      expect(body.type).toBe("Style Constraint");
    }
    const byLabel = await call(`/v1/taxonomy/${encodeURIComponent("包含约束")}`);
    expect(((await byLabel.json()) as { name: string }).name).toBe("Inclusion Constraint");
  });

  it("404s an unknown dimension with a problem naming the field", async () => {
    const problem = await expectProblem(await call("/v1/taxonomy/no-such-thing"), 404);
    expect(problem.errors?.[0]?.field).toBe("path.dimension");
  });
});

describe("openapi and docs", () => {
  it("generates OpenAPI 3.1 from the routes", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { securitySchemes: unknown };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/health", "/v1/taxonomy", "/v1/taxonomy/{dimension}", "/v1/keys", "/v1/keys/{id}"]),
    );
    expect(Object.keys(doc.paths["/v1/keys"]!)).toEqual(expect.arrayContaining(["get", "post"]));
    expect(doc.components.securitySchemes).toHaveProperty("bearer");
  });

  it("renders a self-contained reference page", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const page = await res.text();
    expect(page).toContain("/v1/taxonomy/{dimension}");
    expect(page).toContain('id="problem-validation"');
    // nothing loaded from elsewhere: no external scripts, styles or fonts
    expect(page).not.toMatch(/<script|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    // descriptions' inline Markdown is rendered: no backtick left outside the schemas' JSON
    expect(page).toContain("Send <code>authorization: Bearer &#60;key&#62;</code>;");
    expect(page.replace(/<pre>[\s\S]*?<\/pre>/g, "")).not.toContain("`");
  });

  it("renders inline code and links, and escapes everything else", () => {
    expect(inlineMarkdown("Use `GET /v1/checkers` or [the docs](/docs#problems); <b>, `unclosed")).toBe(
      'Use <code>GET /v1/checkers</code> or <a href="/docs#problems">the docs</a>; &#60;b&#62;, `unclosed',
    );
    expect(inlineMarkdown("[`code` label](https://example.com/a?b=1&c=2)")).toBe(
      '<a href="https://example.com/a?b=1&#38;c=2"><code>code</code> label</a>',
    );
    // only web and same-site links: anything else stays text
    expect(inlineMarkdown("[x](javascript:alert(1))")).toBe("[x](javascript:alert(1))");
  });
});

describe("errors", () => {
  it("404 for an unknown route", async () => {
    const problem = await expectProblem(await call("/v1/nope"), 404);
    expect(problem.type).toBe("/docs#problem-not-found");
  });

  it("405 with Allow for a known route and wrong method", async () => {
    const res = await call("/v1/health", { method: "DELETE" });
    await expectProblem(res, 405);
    expect(res.headers.get("allow")).toContain("GET");
    const res2 = await call("/v1/keys/some-id", { method: "GET", headers: ADMIN });
    await expectProblem(res2, 405);
    expect(res2.headers.get("allow")).toContain("DELETE");
  });

  it("400 for malformed JSON", async () => {
    const problem = await expectProblem(await postJson("/v1/keys", "{not json", ADMIN), 400);
    expect(problem.type).toBe("/docs#problem-malformed-json");
    expect(problem.errors?.[0]?.field).toBe("body");
  });

  it("422 naming every invalid field", async () => {
    const problem = await expectProblem(await postJson("/v1/keys", { name: "", scopes: ["read", "root"] }, ADMIN), 422);
    const fields = problem.errors!.map((e) => e.field);
    expect(fields).toContain("body.name");
    expect(fields).toContain("body.scopes.1");
    const unknown = await expectProblem(await postJson("/v1/keys", { name: "x", scopes: ["read"], extra: 1 }, ADMIN), 422);
    expect(unknown.errors!.length).toBeGreaterThan(0);
  });

  it("415 for a body that is not JSON", async () => {
    const res = await call("/v1/keys", { method: "POST", headers: { ...ADMIN, "content-type": "text/plain" }, body: "hello" });
    const problem = await expectProblem(res, 415);
    expect(problem.errors?.[0]?.field).toBe("header.content-type");
  });

  it("413 for a body over the limit", async () => {
    const big = JSON.stringify({ name: "x".repeat(11 * 1024 * 1024), scopes: ["read"] });
    await expectProblem(await postJson("/v1/keys", big, ADMIN), 413);
  });

  it("401 without a key, with a malformed header, or with an unknown key", async () => {
    await expectProblem(await postJson("/v1/keys", { name: "x", scopes: ["read"] }), 401);
    const malformed = await postJson("/v1/keys", { name: "x", scopes: ["read"] }, { authorization: "Basic Zm9vOmJhcg==" });
    await expectProblem(malformed, 401);
    expect(malformed.headers.get("www-authenticate")).toContain("Bearer");
    await expectProblem(await postJson("/v1/keys", { name: "x", scopes: ["read"] }, { authorization: "Bearer iopo_nope" }), 401);
    // a wrong key is refused even on a public read route
    await expectProblem(await call("/v1/taxonomy", { headers: { authorization: "Bearer iopo_nope" } }), 401);
  });

  it("403 when the key lacks the scope", async () => {
    const { key } = await createKey(["read", "write"]);
    const problem = await expectProblem(
      await postJson("/v1/keys", { name: "x", scopes: ["read"] }, { authorization: `Bearer ${key}` }),
      403,
    );
    expect(problem.detail).toContain("admin");
  });
});

describe("API keys", () => {
  it("creates a key shown once and stores only its SHA-256", async () => {
    const res = await postJson("/v1/keys", { name: "trainer", scopes: ["write"] }, ADMIN);
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string; prefix: string; scopes: string[] };
    expect(created.key).toMatch(/^iopo_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    const row = await env.DB.prepare("SELECT * FROM keys WHERE id = ?").bind(created.id).first<Record<string, string>>();
    expect(row!.hash).toBe(await sha256Hex(created.key));
    expect(Object.values(row!).some((v) => typeof v === "string" && v.includes(created.key))).toBe(false);
    const list = (await (await call("/v1/keys", { headers: ADMIN })).json()) as { keys: Record<string, unknown>[] };
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(list.keys.find((k) => k.id === created.id)).toMatchObject({ name: "trainer", scopes: ["write"], revoked_at: null });
  });

  it("enforces hierarchical scopes", async () => {
    const admin = await createKey(["admin"]);
    const reader = await createKey(["read"]);
    // an admin key can create keys
    expect((await postJson("/v1/keys", { name: "y", scopes: ["read"] }, { authorization: `Bearer ${admin.key}` })).status).toBe(201);
    // a read key can read but not administer
    expect((await call("/v1/taxonomy", { headers: { authorization: `Bearer ${reader.key}` } })).status).toBe(200);
    await expectProblem(await call("/v1/keys", { headers: { authorization: `Bearer ${reader.key}` } }), 403);
  });

  it("revokes a key at once; revoking twice is a 404", async () => {
    const { id, key } = await createKey(["admin"]);
    const auth = { authorization: `Bearer ${key}` };
    expect((await call("/v1/keys", { headers: auth })).status).toBe(200);
    expect((await call(`/v1/keys/${id}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    await expectProblem(await call("/v1/keys", { headers: auth }), 401);
    await expectProblem(await call(`/v1/keys/${id}`, { method: "DELETE", headers: ADMIN }), 404);
    const row = await env.DB.prepare("SELECT revoked_at FROM keys WHERE id = ?").bind(id).first<{ revoked_at: string }>();
    expect(row!.revoked_at).toMatch(/^\d{4}-/);
  });

  it("rejects a wrong admin token of any length", async () => {
    for (const token of ["x", env.ADMIN_TOKEN.slice(0, -1), `${env.ADMIN_TOKEN}x`]) {
      await expectProblem(await call("/v1/keys", { headers: { authorization: `Bearer ${token}` } }), 401);
    }
  });
});
