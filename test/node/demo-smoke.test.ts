/**
 * `npm run demo -- --smoke`: the whole pipeline at toy size (one seed, tiny:micro, a few SFT steps,
 * one epoch per arm, 20 held-out prompts) against its own API. Asserts the pipeline, not the
 * ranking: datasets in the API, the builder job's quadruples exported in three formats, arms at an
 * equal token budget, every model judged, and the report and plot written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, main } from "../../demo/run.ts";
import type { DemoResult } from "../../demo/pipeline.ts";
import { canonicalJson } from "../../src/datasets/records.ts";
import { generateDemoCorpus } from "../../demo/synthetic.ts";

const dir = mkdtempSync(join(tmpdir(), "iopo-demo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("demo", () => {
  it("--smoke runs the whole pipeline and writes the report", async () => {
    const out = join(dir, "smoke");
    const results = join(dir, "results.md");
    const plot = join(dir, "plot.svg");
    const stdout = process.stdout.write.bind(process.stdout);
    const stderr = process.stderr.write.bind(process.stderr);
    let log = "";
    process.stdout.write = ((s: string) => ((log += s), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => ((log += s), true)) as typeof process.stderr.write;
    try {
      expect(await main(["--smoke", "--out", out, "--results", results, "--plot", plot])).toBe(0);
    } finally {
      process.stdout.write = stdout;
      process.stderr.write = stderr;
    }
    const r = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as DemoResult;
    const cfg = loadConfig("smoke");
    expect(r.seeds.map((s) => s.seed)).toEqual(cfg.seeds);
    const s = r.seeds[0];
    const corpus = generateDemoCorpus(s.seed, cfg.corpus.perTopic, cfg.corpus.evalPerTopic);
    expect(s.corpus).toEqual({ train: corpus.train.length, evalSingle: corpus.evalSingle.length, evalMulti: corpus.evalMulti.length });
    // the builder job made quadruples; the arms read that one version in their formats
    expect(s.quadruples.produced).toBeGreaterThan(10);
    expect(Object.values(s.quadruples.byOp).reduce((a, b) => a + b, 0)).toBe(s.quadruples.produced);
    expect(s.sft!.summary.steps).toBe(cfg.sft!.maxSteps);
    for (const arm of ["sft", "dpo", "iopo"] as const) {
      expect(s.arms[arm]!.summary.data).toMatch(new RegExp(`datasets/demo-smoke-s${s.seed}-iopo@1`));
      expect(existsSync(join(s.arms[arm]!.checkpoint, "model.safetensors"))).toBe(true);
    }
    // equal token budget: same steps, same sequences (a quadruple's four pairings hold the tokens of x1y1 + x2y2 twice)
    const steps = (["sft", "dpo", "iopo"] as const).map((a) => s.arms[a]!.summary.steps);
    expect(new Set(steps).size).toBe(1);
    expect(steps[0]).toBe(Math.floor(s.quadruples.produced / (cfg.arms.seqsPerStep / 4)));
    for (const arm of ["sft", "dpo"] as const)
      expect(Math.abs(s.arms[arm]!.summary.tokens / s.arms.iopo!.summary.tokens - 1)).toBeLessThan(0.05);
    // every model judged on every distinct held-out instruction (the API stores a record once)
    const distinct = (rs: unknown[]) => new Set(rs.map((x) => canonicalJson(x))).size;
    for (const row of ["base", "start", "sft", "dpo", "iopo"] as const) {
      const m = s.eval[row]!.metrics;
      expect(m.if_s!.total).toBe(distinct(corpus.evalSingle));
      expect(m.if_m!.total).toBe(distinct(corpus.evalMulti));
      expect(m.items).toBe(m.if_s!.total + m.if_m!.total);
      expect(m.instruction_loose!.total).toBe(m.instruction_strict!.total);
      expect(existsSync(join(out, `seed${s.seed}`, "eval", row, "verdicts.jsonl"))).toBe(true);
    }
    const md = readFileSync(results, "utf8");
    expect(md).toMatch(/\| Method \| IF-S \| IF-M \| Prompt \(S\) \| Prompt \(L\) \| Instr\. \(S\) \| Instr\. \(L\) \|/);
    for (const label of ["untrained base", "SFT start", "+ SFT", "+ DPO", "+ IOPO"]) expect(md).toContain(`| ${label}`);
    expect(md).toContain("## Does IOPO win?");
    const svg = readFileSync(plot, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect((svg.match(/<path /g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(log).toContain("eval iopo");
  }, 150_000);
});
