/**
 * The web app in a real browser: Debian's Chromium driven by playwright-core, against `npm start`'s
 * server (wrangler dev, seeded reference data). One server and one browser for the whole suite.
 * Screenshots of every page go to test-artifacts/web/ (git-ignored); each page is checked with
 * axe-core and for Content-Security-Policy violations.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error -- plain ESM helper shared with the benchmarks and the other end-to-end tests
import { startServer } from "../../scripts/lib/server.mjs";

const root = join(import.meta.dirname, "../..");
const ARTIFACTS = join(root, "test-artifacts/web");
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** `startServer`'s handle (scripts/lib/server.mjs). */
let server: { base: string; adminToken: string; stop(): Promise<void> };
let browser: Browser;
let context: BrowserContext;
/** What the browser reported against the page: CSP violations, uncaught errors. */
const complaints: string[] = [];
const timings: Record<string, number> = {};

async function newPage(viewport = { width: 1100, height: 760 }): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) complaints.push(m.text());
  });
  page.on("pageerror", (e) => complaints.push(String(e)));
  return page;
}

/** axe-core's serious and critical findings on the page as it stands. */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(o: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe;
    const result = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.where.join(", ")}`);
}

async function check(page: Page, name: string) {
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [server, browser] = await Promise.all([
    startServer({ timeoutMs: 240_000 }),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", headless: true }),
  ]);
  context = await browser.newContext({ baseURL: server.base });
}, 300_000);

afterAll(async () => {
  writeFileSync(join(ARTIFACTS, "timings.json"), `${JSON.stringify(timings, null, 2)}\n`);
  console.log("web app timings (ms):", timings);
  await browser?.close();
  await server?.stop();
});

describe("the web app", () => {
  it("dataset list → dataset → search → filter → record view, each page accessible", async () => {
    const page = await newPage();
    await page.goto("/app");
    await page.getByRole("link", { name: "trace-eval" }).waitFor();
    expect(await page.locator("table.list tbody tr").count()).toBeGreaterThanOrEqual(3);
    await check(page, "datasets");

    await page.getByRole("link", { name: "trace-eval" }).click();
    await expect.poll(() => page.locator("#rows tbody tr").count()).toBe(100);
    expect(await page.getByText("Rows 1–100 of 1,042").first().isVisible()).toBe(true);
    await check(page, "dataset");

    // search: TRACE is Chinese; every hit holds the phrase
    await page.getByLabel("Search prompts and responses").fill("机器人");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: "Search results for “机器人”" }).waitFor();
    const hits = await page.locator("#rows tbody tr").allTextContents();
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) expect(hit).toContain("机器人");
    expect(new URL(page.url()).searchParams.get("q")).toBe("机器人");
    await check(page, "search");

    // filter: a constraint type and a constraint count; the URL carries the state
    await page.goto("/app/datasets/trace-eval");
    await page.getByLabel("Constraint type").selectOption("Format Constraint");
    await page.getByLabel("Constraints ≥").fill("5");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("type")).toBe("Format Constraint");
    const total = async () =>
      Number(/of ([\d,]+)/.exec((await page.locator(".pager span").first().textContent()) ?? "")?.[1]?.replace(",", ""));
    await expect.poll(total).toBeLessThan(1042);
    expect(await total()).toBeGreaterThan(0);
    await check(page, "filter");

    // a record, linkable by URL
    const first = page.locator("#rows tbody tr a").first();
    const href = await first.getAttribute("href");
    await first.click();
    await page.getByRole("heading", { name: "Instruction", exact: true }).waitFor();
    expect(page.url()).toContain(href!);
    expect(await page.locator(".constraints li").count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator(".constraints .dim").first().textContent()).toMatch(/Constraint$/);
    await check(page, "record");
    await page.close();
  });

  it("renders a 100-row table soon after navigation (performance marks)", async () => {
    const page = await newPage();
    for (const run of ["first", "repeat"]) {
      await page.goto("/app/datasets/ifeval");
      await expect.poll(() => page.locator("#rows tbody tr").count()).toBe(100);
      const marks = await page.evaluate(() => {
        const rows = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).find((r) => r.name.includes("/rows?"))!;
        return {
          rendered: performance.getEntriesByName("iopo:rows-rendered")[0]!.startTime,
          asked: rows.startTime,
          answered: rows.responseEnd,
        };
      });
      // from navigation: the rows asked for (shell and client loaded), answered, rendered
      timings[`${run}: rows asked`] = Math.round(marks.asked);
      timings[`${run}: rows answered`] = Math.round(marks.answered);
      timings[`${run}: 100 rows rendered`] = Math.round(marks.rendered);
    }
    await page.screenshot({ path: join(ARTIFACTS, "viewer-ifeval.png") });
    // on a narrow screen: readable, nothing hidden behind the table
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, "dataset-narrow.png") });
    await page.close();
  });

  it("judges in the playground: one pass, one fail with evidence and highlighted spans; the link shares it", async () => {
    const page = await newPage();
    await page.goto("/app/judge");
    const picker = page.getByLabel("Add a checker");
    await picker.selectOption("keywords:existence");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    const keywords = page.locator("fieldset[data-checker='keywords:existence'] textarea");
    // validated as you type: an empty required list is flagged, then fixed
    await keywords.fill(" ");
    await keywords.fill("");
    await expect.poll(() => keywords.getAttribute("aria-invalid")).toBe("true");
    await keywords.fill("lantern");
    await expect.poll(() => keywords.getAttribute("aria-invalid")).toBe("false");
    await picker.selectOption("punctuation:no_comma");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByLabel("Response", { exact: true }).fill("The Lantern glowed, and the lantern dimmed.");
    await page.getByRole("button", { name: "Judge" }).click();
    await page.getByRole("heading", { name: /Verdict/ }).waitFor();
    const verdicts = await page.locator("tr.verdict").allTextContents();
    expect(verdicts).toHaveLength(2);
    expect(verdicts[0]).toContain("pass");
    expect(verdicts[1]).toContain("fail");
    expect(verdicts[0]).toContain("spans");
    expect(await page.locator(".highlight mark").allTextContents()).toEqual(["Lantern", "lantern"]);
    await check(page, "judge");

    // share: the URL alone brings back the form and the verdicts
    const shared = page.url();
    expect(shared).toContain("#s=");
    const other = await newPage();
    await other.goto(shared);
    await other.getByRole("heading", { name: /Verdict/ }).waitFor();
    expect(await other.locator("tr.verdict").allTextContents()).toEqual(verdicts);
    expect(await other.getByLabel("Response", { exact: true }).inputValue()).toBe("The Lantern glowed, and the lantern dimmed.");
    await other.close();
    await page.close();
  });

  it("follows a job: the page updates itself as the queue runs it, and controls it", async () => {
    const admin = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${server.base}${path}`, { method: "POST", headers: admin, body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
      return res.json() as Promise<{ id: string }>;
    };
    await post("/v1/datasets", { name: "web-jobs" });
    const record = (i: number) => ({
      kind: "sft",
      instruction: {
        description: `Write about topic ${i % 2}.`,
        constraints: [
          { text: "At least 5 words.", checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 5 } } },
        ],
      },
      response: `Topic ${i % 2} is a subject worth ${"many ".repeat(i)}words.`,
    });
    const n = 20;
    await post(
      "/v1/datasets/web-jobs/records",
      Array.from({ length: n }, (_, i) => record(i)),
    );
    // one record a step, paused at once from elsewhere: the queue stops before the job is done
    const job = await post("/v1/datasets/web-jobs/jobs/build-quadruples", { target: "web-jobs-iopo", batch_size: 1 });
    await post(`/v1/datasets/web-jobs/jobs/${job.id}/pause`, {});

    const page = await newPage();
    await page.goto("/app/jobs");
    await page.getByLabel("API key").fill(server.adminToken);
    await page.getByRole("button", { name: "Use" }).click();
    await page.getByRole("link", { name: job.id.slice(0, 8) }).click();
    await expect.poll(() => page.locator("#job-status").textContent()).toBe("paused");
    await check(page, "job");

    // resumed from the page's own control: the queue runs it and the page follows by itself
    await page.getByRole("button", { name: "Resume" }).click();
    await expect.poll(() => page.locator("#job-status").textContent(), { timeout: 60_000 }).toBe("done");
    await expect.poll(() => page.locator("#job-progress").textContent()).toContain(`${n} of ${n}`);
    await page.screenshot({ path: join(ARTIFACTS, "job-done.png") });
    await page.close();
  });

  it("raised no Content-Security-Policy violation or script error on any page", () => {
    expect(complaints).toEqual([]);
  });
});
