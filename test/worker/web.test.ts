import { describe, expect, it } from "vitest";
import { call, expectProblem } from "./helpers.ts";

// The web app's pages (src/web/routes.ts): one HTML shell under a strict CSP; the browser tests
// (test/e2e/web-app.test.ts) exercise what the client does with it.
describe("web app shell", () => {
  it("serves every /app page as the same shell, loading only this origin's client under a strict CSP", async () => {
    const pages = await Promise.all(["/app", "/app/datasets/trace-eval", "/app/judge", "/app/jobs/x/y"].map((p) => call(p)));
    const bodies = await Promise.all(pages.map((r) => r.text()));
    for (const res of pages) {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      const csp = res.headers.get("content-security-policy")!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
    }
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toContain('<script type="module" src="/app/static/app.js"></script>');
    expect(bodies[0]).not.toMatch(/<script>|style=|https?:\/\//);
  });

  it("answers a missing client file with a 404 problem, not the shell", async () => {
    await expectProblem(await call("/app/static/missing.js"), 404);
  });
});
