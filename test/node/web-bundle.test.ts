/**
 * The web app's client stays small and self-contained: at most 100 KB of JavaScript gzipped, and
 * nothing loaded from another origin (no CDN: the CSP would refuse it and the app works offline).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const STATIC = join(import.meta.dirname, "../../src/web/assets/app/static");
const files = readdirSync(STATIC).map((name) => ({ name, text: readFileSync(join(STATIC, name), "utf8") }));
const gzipped = (names: { text: string }[]) => names.reduce((sum, f) => sum + gzipSync(f.text, { level: 9 }).length, 0);

describe("the web app's client files", () => {
  it("hold at most 100 KB of gzipped JavaScript", () => {
    const js = files.filter((f) => f.name.endsWith(".js"));
    expect(js.length).toBeGreaterThan(0);
    const size = gzipped(js);
    console.log(
      `web app client: ${js.length} JS files, ${size} bytes gzipped (CSS ${gzipped(files.filter((f) => f.name.endsWith(".css")))})`,
    );
    expect(size).toBeLessThanOrEqual(100 * 1024);
  });

  it("load nothing from another origin", () => {
    for (const f of files) expect(f.text, f.name).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
  });
});
