/**
 * The options table is the one statement of each training option: the usage text, the parseArgs
 * options, config-file validation and resolveOptions cover exactly its rows, and a resume with a
 * must-match option changed is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRAIN_USAGE, readConfigFile } from "../src/cli/main.ts";
import { createWasmEngine, type Engine } from "@iopo/graph";
import {
  CONFIG_KEYS,
  ConfigError,
  MUST_MATCH,
  type OptionName,
  TRAIN_OPTIONS,
  flagOf,
  parseArgsOptions,
  resolveOptions,
  specOf,
} from "../src/train/options.ts";
import { type TrainOptions, train } from "../src/train/train.ts";
import { createTinyModel, datasetOf, toyQuadruples } from "./iopo-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "iopo-options-"));
const names = Object.keys(TRAIN_OPTIONS) as OptionName[];
const flags = names.map(flagOf);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the options table", () => {
  it("the usage text, the parseArgs options and the config keys are exactly its rows", async () => {
    const usageFlags = [...TRAIN_USAGE.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    expect(usageFlags.sort()).toEqual([...flags, "config"].sort());
    expect(Object.keys(parseArgsOptions()).sort()).toEqual([...flags].sort());
    expect(
      Object.entries(parseArgsOptions())
        .filter(([, o]) => o.type === "boolean")
        .map(([f]) => f),
    ).toEqual(names.filter((n) => specOf(n).type === "boolean").map(flagOf));

    const configurable = names.filter((n) => !specOf(n).cliOnly);
    expect([...CONFIG_KEYS].sort()).toEqual(configurable.map(flagOf).sort());
    const yaml = join(dir, "all.yaml");
    // snake_case keys as Python configs spell them; the file is only read here, not validated
    writeFileSync(yaml, configurable.map((n) => `${flagOf(n).replace(/-/g, "_")}: x\n`).join(""));
    expect(Object.keys(await readConfigFile(yaml)).sort()).toEqual(configurable.map(flagOf).sort());
    for (const n of names.filter((k) => specOf(k).cliOnly)) {
      writeFileSync(yaml, `${flagOf(n)}: x\n`);
      await expect(readConfigFile(yaml)).rejects.toThrow(`unknown key "${flagOf(n)}"`);
    }
  });

  it("resolveOptions fills every default and enforces every bound, naming the flag", () => {
    const base = { method: "iopo" as const, out: dir };
    const r = resolveOptions(base) as Record<string, unknown>;
    for (const n of names) {
      const s = specOf(n);
      if (s.default !== undefined && n !== "loraRank" && n !== "loraAlpha") expect(r[n], n).toBe(s.default);
      if (s.min !== undefined)
        expect(() => resolveOptions({ ...base, [n]: s.min! - 1 }), n).toThrow(new RegExp(`^--${flagOf(n)} must be .*>= ${s.min}`));
      if (s.type === "integer")
        expect(() => resolveOptions({ ...base, [n]: (s.min ?? 0) + 1.5 }), n).toThrow(`--${flagOf(n)} must be an integer`);
      const top = s.max ?? s.below;
      if (top !== undefined)
        expect(() => resolveOptions({ ...base, [n]: top + (s.max !== undefined ? 0.5 : 0) }), n).toThrow(`--${flagOf(n)} must be in [`);
      if (s.choices && !s.cliOnly)
        expect(() => resolveOptions({ ...base, [n]: "nonesuch" }), n).toThrow(`--${flagOf(n)} must be ${s.choices.join("|")}`);
    }
    expect(resolveOptions({ ...base, method: "sft" }).lr).toBe(1e-4);
    expect(resolveOptions({ ...base, full: true }).lora).toBeNull();
    expect(() => resolveOptions({ ...base, full: true, loraRank: 4 })).toThrow(ConfigError);
    expect(() => resolveOptions({ ...base, precision: "fp16" })).toThrow("--precision fp16 needs --grad-accum 1");
    expect(resolveOptions({ ...base, precision: "fp16", gradAccum: 1 }).precision).toBe("fp16");
    expect(resolveOptions({ ...base, recompute: true }).recompute).toBe(true);
  });
});

describe("resume", () => {
  let wasm: Engine;
  beforeAll(async () => {
    wasm = await createWasmEngine();
  });
  afterAll(async () => {
    await wasm?.close();
  });
  const out = join(dir, "run");
  const base = () =>
    ({
      model: createTinyModel("micro", 1),
      data: datasetOf(toyQuadruples(8)),
      method: "iopo",
      out,
      engine: wasm,
      log: () => {},
      progress: "none",
      cacheDir: join(dir, "cache"),
      maxSteps: 1,
      batchSize: 2,
      gradAccum: 1,
    }) satisfies TrainOptions;
  /** A value other than the first run's for each must-match option. */
  const changed: Record<(typeof MUST_MATCH)[number], unknown> = {
    method: "iopo-lite",
    beta: 0.2,
    labelSmoothing: 0.1,
    prefFtx: 0.5,
    lr: 1e-3,
    batchSize: 1,
    gradAccum: 2,
    maxLength: 512,
    warmupRatio: 0.5,
    scheduler: "linear",
    weightDecay: 0.01,
    clip: 2,
    ref: "on-the-fly",
    seed: 1,
    valSize: 1,
  };

  it("is refused when a must-match option or the LoRA differs, and allowed when none does", async () => {
    expect(Object.keys(changed).sort()).toEqual([...MUST_MATCH].sort());
    await train(base());
    // each difference as the flags say it, the checkpoint's value first
    for (const [k, v] of Object.entries(changed))
      await expect(train({ ...base(), [k]: v, resume: true } as TrainOptions), k).rejects.toThrow(
        new RegExp(
          `cannot resume .*checkpoint-1: it was trained with other options: --${flagOf(k as OptionName)} \\S+ \\(checkpoint\\) vs \\S+ \\(now\\)$`,
        ),
      );
    await expect(train({ ...base(), lr: 2e-4, valSize: 1, resume: true })).rejects.toThrow(
      /: --lr 5e-6 \(checkpoint\) vs 2e-4 \(now\); --val-size 0 \(checkpoint\) vs 1 \(now\)$/,
    );
    await expect(train({ ...base(), loraRank: 4, resume: true })).rejects.toThrow(
      /: --lora-rank 8 --lora-alpha 16 --lora-targets \S+ \(checkpoint\) vs --lora-rank 4 --lora-alpha 16 --lora-targets \S+ \(now\)$/,
    );
    // options that need not match (how far to go, how often to save) may change; the run says where it resumed
    const lines: string[] = [];
    const more = await train({ ...base(), maxSteps: 2, saveEvery: 1, epochs: 1, resume: true, log: (l) => lines.push(l) });
    expect(more.summary.resumedFrom).toBe(1);
    expect(lines).toContainEqual(expect.stringMatching(/^resuming from \S+checkpoint-1 at step 1 of 2 \(epoch \d+, example \d+\)$/));
  });

  it("--precision fp16 trains with dynamic loss scaling; --recompute reaches the same losses", async () => {
    const run = (o: Partial<TrainOptions>, name: string) => train({ ...base(), ...o, out: join(dir, name), maxSteps: 2 });
    const fp32 = await run({}, "fp32");
    const fp16 = await run({ precision: "fp16" }, "fp16");
    expect(fp32.metrics[0].loss_scale).toBeUndefined();
    expect(fp16.metrics.map((r) => r.loss_scale)).toEqual([65536, 65536]);
    fp16.metrics.forEach((r, i) => expect(Math.abs(r.loss - fp32.metrics[i].loss)).toBeLessThan(1e-2));
    const recomputed = await run({ recompute: true }, "recompute");
    recomputed.metrics.forEach((r, i) => expect(Math.abs(r.loss - fp32.metrics[i].loss)).toBeLessThan(1e-6));
  });
});
