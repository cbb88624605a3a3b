/**
 * The IOPO trainer: losses against their formulas, the step-0 invariant, batch layout and
 * truncation, data parsing and order, gradient accumulation, convergence on toy quadruples,
 * resume after a kill, the CLI's user errors, log-probs and export.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { permutation } from "@iopo/common";
import { createNodeCpuEngine, createWasmEngine, type Engine, Graph, evaluate } from "@iopo/graph";
import { ExampleOrder } from "../src/data/order.ts";
import { readLocalDataset } from "../src/data/dataset.ts";
import { DataError, parseSample } from "../src/data/samples.ts";
import { loadModel } from "../src/model/index.ts";
import { SafetensorsFile } from "../src/model/safetensors.ts";
import { encodeExample, inferSeqlen } from "../src/train/batch.ts";
import { inferenceOnnx } from "../src/train/export.ts";
import { computeLogprobs } from "../src/train/logprobs.ts";
import { buildLoss, type Method } from "../src/train/losses.ts";
import { exportCheckpoint } from "../src/train/export.ts";
import { type TrainOptions, train } from "../src/train/train.ts";
import { createTinyModel, datasetOf, toyQuadruples, writeQuadruples } from "./iopo-helpers.ts";
import { tryEngine } from "@iopo/graph/testing";

const dir = mkdtempSync(join(tmpdir(), "iopo-train-"));
const cacheDir = join(dir, "cache");
const BIN = join(import.meta.dirname, "../bin/iopo-train.mjs");
let wasm: Engine;
let fast: Engine; // onnxruntime-node when it loads (about 2.5x wasm), else wasm
beforeAll(async () => {
  wasm = await createWasmEngine();
  const node = await tryEngine(() => createNodeCpuEngine());
  fast = node.ok ? node.value : wasm;
});
afterAll(async () => {
  await wasm?.close();
  if (fast !== wasm) await fast?.close();
  rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
const quiet = { log: () => {}, progress: "none" as const, cacheDir };
/** A short programmatic run in a fresh folder. */
function run(o: Partial<TrainOptions>) {
  return train({
    model: createTinyModel("micro", 1),
    data: datasetOf(toyQuadruples(8)),
    method: "iopo",
    out: join(dir, `run${runs++}`),
    engine: wasm,
    ...quiet,
    ...o,
  } as TrainOptions);
}

const logSigmoid = (z: number) => Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));

describe("losses = the paper's formulas", () => {
  const B = 3;
  const pol = [-10, -11, -9.5, -12, -13, -8, -9, -10.5, -11.2, -14, -12.5, -9.9];
  const ref = [-10.2, -10.7, -9.9, -11.5, -13.3, -8.4, -9.1, -10.1, -11.0, -13.6, -12.9, -9.2];
  const tok = [5, 6, 4, 7, 5, 6, 8, 4, 5, 6, 7, 5];
  function lossOf(
    method: Method,
    rows: number,
    o: { beta: number; labelSmoothing?: number; prefFtx?: number },
    logps: { pol: number[]; ref: number[] } = { pol, ref },
  ) {
    const g = new Graph();
    const N = rows === 1 ? "B" : `${rows}*B`;
    const p = g.input("p", "float64", [N]);
    const r = g.input("r", "float64", [N]);
    const t = g.input("t", "float64", [N]);
    const out = buildLoss(method, { policy: p, reference: r, tokens: t }, o);
    const names = Object.keys(out.metrics);
    const n = rows * B;
    const v = evaluate([out.loss, ...names.map((k) => out.metrics[k])], {
      feeds: {
        p: { dtype: "float64", shape: [n], data: Float64Array.from(logps.pol.slice(0, n)) },
        r: { dtype: "float64", shape: [n], data: Float64Array.from(logps.ref.slice(0, n)) },
        t: { dtype: "float64", shape: [n], data: Float64Array.from(tok.slice(0, n)) },
      },
    });
    return { loss: v[0].data[0], m: Object.fromEntries(names.map((k, i) => [k, v[i + 1].data[0]])) };
  }
  const h = pol.map((p, i) => p - ref[i]);
  const mean = (f: (j: number) => number) => Array.from({ length: B }, (_, j) => f(j)).reduce((a, b) => a + b, 0) / B;

  it("iopo: -log s(beta((a+d)-(b+c))) with conservative label smoothing and the pref_ftx SFT term; TRL metrics", () => {
    const beta = 0.1;
    const eps = 0.1;
    const ftx = 0.5;
    // blocks [x1y1 | x1y2 | x2y2 | x2y1]
    const a = (j: number) => h[j],
      b = (j: number) => h[B + j],
      d = (j: number) => h[2 * B + j],
      c = (j: number) => h[3 * B + j];
    const z = (j: number) => beta * (a(j) + d(j) - (b(j) + c(j)));
    const pi = (j: number) => 0.5 * (beta * (2 * a(j) - b(j) - c(j)) + beta * (2 * d(j) - c(j) - b(j))); // the paper's form
    expect(mean(pi)).toBeCloseTo(mean(z), 12);
    const sft = (j: number) => -(pol[j] / tok[j] + pol[2 * B + j] / tok[2 * B + j]);
    const want = mean((j) => -(1 - eps) * logSigmoid(z(j)) - eps * logSigmoid(-z(j))) + ftx * mean(sft);
    const got = lossOf("iopo", 4, { beta, labelSmoothing: eps, prefFtx: ftx });
    expect(got.loss).toBeCloseTo(want, 12);
    expect(got.m["rewards/x1y1"]).toBeCloseTo(
      mean((j) => beta * a(j)),
      12,
    );
    expect(got.m["rewards/x2y1"]).toBeCloseTo(
      mean((j) => beta * c(j)),
      12,
    );
    expect(got.m["rewards/accuracies_x1"]).toBeCloseTo(
      mean((j) => (a(j) > b(j) ? 1 : 0)),
      12,
    );
    expect(got.m["rewards/accuracies_x2"]).toBeCloseTo(
      mean((j) => (d(j) > c(j) ? 1 : 0)),
      12,
    );
    expect(got.m["rewards/margins"]).toBeCloseTo(mean(z), 12);
    expect(got.m["logps/x2y2"]).toBeCloseTo(
      mean((j) => pol[2 * B + j]),
      12,
    );
  });

  it("iopo-lite, dpo (sigmoid) and sft (token mean)", () => {
    const beta = 0.2;
    const lite = lossOf("iopo-lite", 3, { beta });
    expect(lite.loss).toBeCloseTo(
      mean((j) => -logSigmoid(2 * beta * h[j] - beta * h[B + j] - beta * h[2 * B + j])),
      12,
    );
    const dpo = lossOf("dpo", 2, { beta });
    expect(dpo.loss).toBeCloseTo(
      mean((j) => -logSigmoid(beta * (h[j] - h[B + j]))),
      12,
    );
    expect(dpo.m["rewards/chosen"]).toBeCloseTo(
      mean((j) => beta * h[j]),
      12,
    );
    expect(dpo.m["rewards/accuracies"]).toBeCloseTo(
      mean((j) => (h[j] > h[B + j] ? 1 : 0)),
      12,
    );
    const sft = lossOf("sft", 1, { beta });
    expect(sft.loss).toBeCloseTo(-(pol[0] + pol[1] + pol[2]) / (tok[0] + tok[1] + tok[2]), 12);
  });

  it("the loss graph's log sigmoid stays finite where the naive log(1/(1+e^-z)) overflows", () => {
    // dpo, beta 1, rows [chosen x3 | rejected x3]: margins z = -800, +800, -800
    const far = { pol: [-900, -100, -900, -100, -100, -100], ref: [-100, -900, -100, -100, -100, -100] };
    const { loss } = lossOf("dpo", 2, { beta: 1 }, far);
    // -log s(-800) = 800, -log s(800) = e^-800 ~ 0, -log s(-800) = 800: mean 1600/3
    expect(loss).toBeCloseTo(1600 / 3, 9);
  });
});

describe("step 0: policy == reference, so the preference losses are ln 2", () => {
  const cases: [string, Partial<TrainOptions>][] = [
    ["iopo, LoRA, cached reference", { method: "iopo" }],
    ["iopo, full fine-tuning, reference on the fly (frozen copy)", { method: "iopo", full: true, ref: "on-the-fly" }],
    ["iopo-lite, LoRA on the fly (adapters off)", { method: "iopo-lite", ref: "on-the-fly" }],
    ["dpo on the quadruples' pairs", { method: "dpo" }],
  ];
  for (const [name, o] of cases)
    it(name, async () => {
      const r = await run({ ...o, maxSteps: 1, batchSize: 2, gradAccum: 1, lr: 1e-3, model: createTinyModel("llama", 2) });
      expect(Math.abs(r.metrics[0].loss - Math.LN2)).toBeLessThan(2e-6);
      expect(r.metrics[0]["rewards/margins"]).toBeCloseTo(0, 5);
      expect(r.metrics[0].grad_norm).toBeGreaterThan(0);
    });
});

describe("batches: layout and one truncation budget per quadruple", () => {
  it("infer_seqlen as LLaMA-Factory", () => {
    expect(inferSeqlen(10, 4, 100)).toEqual([10, 4]);
    expect(inferSeqlen(100, 10, 50)).toEqual([40, 10]); // short target: the prompt is cut
    expect(inferSeqlen(10, 100, 50)).toEqual([10, 40]); // short source: the response is cut
    expect(inferSeqlen(60, 40, 50)).toEqual([30, 20]); // both, in proportion
  });
  it("the four rows share the (prompt, response) budget and keep the beginning", () => {
    const m = createTinyModel("micro");
    const q = toyQuadruples(1)[0];
    const full = encodeExample(m.tokenizer, q, "iopo", 10_000);
    const cut = encodeExample(m.tokenizer, q, "iopo", 24);
    const ps = Math.max(...cut.rows.map((r) => r.prompt.length));
    const rs = Math.max(...cut.rows.map((r) => r.response.length));
    expect(ps + rs).toBeLessThanOrEqual(24);
    cut.rows.forEach((r, k) => {
      expect(r.prompt).toEqual(full.rows[k].prompt.slice(0, ps));
      expect(r.response).toEqual(full.rows[k].response.slice(0, rs));
    });
    // [x1+y1 | x1+y2 | x2+y2 | x2+y1]
    expect(full.rows[0].prompt).toEqual(full.rows[1].prompt);
    expect(full.rows[2].prompt).toEqual(full.rows[3].prompt);
    expect(full.rows[0].response).toEqual(full.rows[3].response);
    expect(full.rows[1].response).toEqual(full.rows[2].response);
    expect(m.tokenizer.decode(full.rows[0].response)).toBe(`${(q as { y1: string }).y1}<|im_end|>\n`);
  });
});

describe("data", () => {
  it("parses quadruples (strings, messages, LLaMA-Factory), DPO pairs and SFT records", () => {
    const s = parseSample(
      { x1: "a", y1: "b", x2: [{ role: "user", content: "c" }], y2: { role: "assistant", content: "d" }, system: "S" },
      "f",
    );
    expect(s).toEqual({
      kind: "iopo",
      id: "f",
      x1: [
        { role: "system", content: "S" },
        { role: "user", content: "a" },
      ],
      y1: "b",
      x2: [
        { role: "system", content: "S" },
        { role: "user", content: "c" },
      ],
      y2: "d",
    });
    const lf = parseSample(
      {
        id: 7,
        conversations: [
          { from: "human", value: "x1" },
          { from: "human", value: "x2" },
        ],
        chosen: { from: "gpt", value: "y1" },
        rejected: { from: "gpt", value: "y2" },
      },
      "f",
    );
    expect(lf).toMatchObject({ kind: "iopo", id: "7", y1: "y1", y2: "y2", x2: [{ role: "user", content: "x2" }] });
    expect(
      parseSample({ prompt: [{ role: "user", content: "p" }], chosen: [{ role: "assistant", content: "c" }], rejected: "r" }, "f"),
    ).toMatchObject({ kind: "dpo", chosen: "c", rejected: "r" });
    expect(
      parseSample(
        {
          messages: [
            { role: "user", content: "p" },
            { role: "assistant", content: "r" },
          ],
        },
        "f",
      ),
    ).toMatchObject({ kind: "sft", response: "r" });
    expect(() => parseSample({ x1: "a", y1: "b", x2: "c" }, "f")).toThrow(/without "y2"/);
    expect(() => parseSample({ foo: 1 }, "f")).toThrow(DataError);
  });

  it("reads a local JSONL file through the shared NDJSON reader: blank lines and CRLF pass, a bad line is named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iopo-data-"));
    try {
      const lf = join(dir, "lf.jsonl");
      writeQuadruples(lf, toyQuadruples(2));
      const [first, second] = readFileSync(lf, "utf8").trim().split("\n");
      const crlf = join(dir, "crlf.jsonl");
      writeFileSync(crlf, `${first}\r\n\r\n${second}\r\n`);
      const read = await readLocalDataset(crlf);
      expect(read.records.map((r) => r[0].id)).toEqual(["q0", "q1"]);
      const bad = join(dir, "bad.jsonl");
      writeFileSync(bad, `${first}\n{"x1": \n`);
      await expect(readLocalDataset(bad)).rejects.toThrow(`${bad}:2: not valid JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("follows the shared order per (seed, epoch), holds out a validation split, drops the short tail", () => {
    const samples = toyQuadruples(10);
    const order = new ExampleOrder(datasetOf(samples), "dpo", 7, 2);
    expect(order.val).toHaveLength(4); // 2 records x 2 DPO pairs
    expect(order.examplesPerEpoch).toBe(16);
    const p = permutation(10, 7, 1);
    const want = Array.from({ length: 10 }, (_, i) => p.at(i)).filter((r) => !order.valRecords.has(r));
    expect(
      order
        .epoch(1)
        .filter((_, i) => i % 2 === 0)
        .map((e) => e.key),
    ).toEqual(want.map((r) => `${r}.0`));
    const a = order.take({ epoch: 0, sample: 12 }, 6); // 4 left in epoch 0: skipped
    expect(a.start).toEqual({ epoch: 1, sample: 0 });
    expect(a.next).toEqual({ epoch: 1, sample: 6 });
    expect(() => new ExampleOrder(datasetOf(samples), "iopo", 0).take({ epoch: 0, sample: 0 }, 11)).toThrow(/an epoch has 10/);
  });
});

describe("training", () => {
  it("batch 1 x 4 accumulation equals batch 4 x 1", async () => {
    const common = { maxSteps: 3, lr: 5e-3, full: true, model: createTinyModel("micro", 4), clip: 0.5 };
    const a = await run({ ...common, batchSize: 1, gradAccum: 4 });
    const b = await run({ ...common, batchSize: 4, gradAccum: 1 });
    a.metrics.forEach((r, i) => {
      expect(Math.abs(r.loss - b.metrics[i].loss)).toBeLessThan(1e-6);
      expect(Math.abs(r.grad_norm - b.metrics[i].grad_norm)).toBeLessThan(1e-5);
      expect(Math.abs(r["rewards/accuracies"] - b.metrics[i]["rewards/accuracies"])).toBeLessThan(1e-6);
    });
    const wa = await SafetensorsFile.open(join(a.checkpoint, "model.safetensors"));
    const wb = await SafetensorsFile.open(join(b.checkpoint, "model.safetensors"));
    let diff = 0;
    for (const n of wa.names) {
      const x = (await wa.readF32(n)).data;
      const y = (await wb.readF32(n)).data;
      for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    // AdamW divides by sqrt(v): fp32 summation-order noise in near-zero gradients moves a weight by
    // a fraction of lr per step, so compare against the step size (lr = 5e-3, 3 steps)
    expect(diff).toBeLessThan(3e-5);
  });

  it("a few hundred steps on toy quadruples drive the loss down and the accuracies up", async () => {
    const rows: number[][] = [];
    const r = await train({
      model: createTinyModel("micro", 1),
      data: datasetOf(toyQuadruples(16)),
      method: "iopo",
      out: join(dir, "converge"),
      engine: fast,
      ...quiet,
      maxSteps: 200,
      batchSize: 4,
      gradAccum: 1,
      lr: 1e-2,
      valSize: 2,
      evalEvery: 100,
      onMetrics: (m) => m.loss !== undefined && rows.push([m.loss, m["rewards/accuracies"], m["rewards/margins"]]),
    });
    const avg = (xs: number[][], k: number) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
    const first = rows.slice(0, 10);
    const last = rows.slice(-20);
    expect(avg(first, 0)).toBeGreaterThan(0.66);
    expect(avg(last, 0)).toBeLessThan(0.45);
    expect(avg(last, 1)).toBeGreaterThan(0.95);
    expect(avg(last, 2)).toBeGreaterThan(0.4);
    expect(r.evals.map((e) => e.step)).toEqual([100, 200]);
    expect(r.evals[1].eval_loss).toBeLessThan(0.6); // the held-out quadruples improve too
    // evaluations are named as the HF Trainer and TRL name them
    expect(Object.keys(r.evals[0])).toEqual(expect.arrayContaining(["eval_loss", "eval_rewards/accuracies", "eval_rewards/margins"]));
    const lines = readFileSync(join(dir, "converge", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(Object.keys(lines[0])).toEqual(
      expect.arrayContaining([
        "loss",
        "grad_norm",
        "learning_rate",
        "rewards/x1y1",
        "rewards/x1y2",
        "rewards/x2y1",
        "rewards/x2y2",
        "rewards/accuracies",
        "rewards/margins",
        "logps/x1y1",
        "tokens/s",
      ]),
    );
    expect(readFileSync(join(dir, "converge", "plot.svg"), "utf8")).toContain("<polyline");
    expect(JSON.parse(readFileSync(join(dir, "converge", "summary.json"), "utf8")).steps).toBe(200);
  });
});

/** Run the CLI (through the package's bin) and capture its output. */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, IOPO_CACHE_DIR: cacheDir, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the iopo-train CLI", () => {
  const data = join(dir, "quads.jsonl");
  beforeAll(() => writeQuadruples(data, toyQuadruples(12)));
  const base = ["--model", "tiny:micro", "--data", data, "--method", "iopo", "--device", "wasm", "--progress", "none"];

  it("resume after a kill reaches exactly the weights of the uninterrupted run", async () => {
    const args = [
      ...base,
      "--max-steps",
      "60",
      "--batch-size",
      "2",
      "--grad-accum",
      "2",
      "--lr",
      "3e-3",
      "--save-every",
      "10",
      "--seed",
      "5",
    ];
    const whole = cli(["train", ...args, "--out", join(dir, "whole")]);
    expect(whole.status, whole.stderr).toBe(0);
    const killedOut = join(dir, "killed");
    const child = spawn(process.execPath, [BIN, "train", ...args, "--out", killedOut], {
      env: { ...process.env, IOPO_CACHE_DIR: cacheDir },
      stdio: "ignore",
    });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.once("exit", (_code, signal) => res(signal)));
    while (!existsSync(join(killedOut, "checkpoint-10")) && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(existsSync(join(killedOut, "checkpoint-60"))).toBe(false);
    const resumed = cli(["train", ...args, "--out", killedOut, "--resume"]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).resumedFrom).toBeGreaterThanOrEqual(10);
    const adapter = async (d: string) => {
      const f = await SafetensorsFile.open(join(d, "checkpoint-60", "adapter_model.safetensors"));
      return Promise.all(f.names.map(async (n) => Array.from((await f.readF32(n)).data)));
    };
    expect(await adapter(killedOut)).toEqual(await adapter(join(dir, "whole")));
    const metrics = (d: string) =>
      readFileSync(join(d, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).loss);
    expect(metrics(killedOut)).toEqual(metrics(join(dir, "whole")));
    const opt = await SafetensorsFile.open(join(killedOut, "checkpoint-60", "optimizer.safetensors"));
    expect(opt.names).toEqual(["adam.m.b0", "adam.v.b0"]);
    const state = JSON.parse(readFileSync(join(killedOut, "checkpoint-60", "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ step: 60, lora: { rank: 8, alpha: 16 }, rng: { seed: 5 } });
    expect(state.cursor.epoch).toBeGreaterThan(0);
  });

  it("logprobs: per record summed log-probs and token counts, matching the step-0 training log-probs", async () => {
    const out = join(dir, "lp.jsonl");
    const r = cli(["logprobs", "--model", "tiny:micro", "--data", data, "--out", out, "--device", "wasm"]);
    expect(r.status, r.stderr).toBe(0);
    const rows = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(12);
    expect(Object.keys(rows[0].logps)).toEqual(["y1|x1", "y2|x1", "y2|x2", "y1|x2"]);
    expect(rows[0].tokens["y1|x1"]).toBeGreaterThan(3);
    const direct = await computeLogprobs({ model: createTinyModel("micro", 0), data, engine: wasm });
    expect(direct[0].logps["y2|x2"]).toBeCloseTo(rows[0].logps["y2|x2"], 4);
  });

  it("user errors are one line, a non-zero exit, and nothing written to --out", () => {
    const out = join(dir, "err-out");
    const yaml = join(dir, "bad.yaml");
    writeFileSync(yaml, "beta: 0.1\nlearning_rat: 3\n");
    const gpt = join(dir, "gpt-neox");
    mkdirSync(gpt, { recursive: true });
    writeFileSync(join(gpt, "config.json"), JSON.stringify({ architectures: ["GPTNeoXForCausalLM"], hidden_size: 8 }));
    const cases: [string[], RegExp][] = [
      [["--data", join(dir, "missing.jsonl")], /no such data file: .*missing\.jsonl/],
      [["--config", yaml], /bad\.yaml: unknown key "learning_rat"/],
      [["--model", gpt], /unsupported architecture GPTNeoXForCausalLM/],
      [["--model", join(dir, "nowhere")], /model folder not found/],
      [["--data", "api://127.0.0.1:9/datasets/quads"], /cannot reach the dataset API at http:\/\/127\.0\.0\.1:9/],
      [["--lora-targets", "qkv"], /unknown LoRA target "qkv"/],
      [["--beta=-1", ""], /--beta must be a number >= 0/],
    ];
    for (const [extra, msg] of cases) {
      const args = [...base, "--out", out];
      for (let i = 0; i < extra.length; i += 2) {
        const at = args.indexOf(extra[i]);
        if (at >= 0) args[at + 1] = extra[i + 1];
        else args.push(...[extra[i], extra[i + 1]].filter(Boolean));
      }
      const r = cli(["train", ...args]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(existsSync(out)).toBe(false);
    }
    const used = cli(["train", ...base, "--out", join(dir, "whole"), "--max-steps", "60"]);
    expect(used.stderr).toMatch(/already holds a run \(checkpoint-60\); pass --resume/);
    expect(readdirSync(join(dir, "whole")).sort()).toEqual([
      "checkpoint-10",
      "checkpoint-20",
      "checkpoint-30",
      "checkpoint-40",
      "checkpoint-50",
      "checkpoint-60",
      "metrics.jsonl",
      "plot.svg",
      "summary.json",
    ]);
    const usage = cli(["train", "--model", "tiny:micro"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/missing --data, --method, --out/);
  });

  it("a YAML config gives the same keys; export writes HF folders and an ONNX graph that match the trained policy", async () => {
    const yaml = join(dir, "run.yaml");
    writeFileSync(
      yaml,
      `model: tiny:micro\ndata: ${data}\nmethod: iopo\nmax_steps: 3\nbatch-size: 2\ngrad-accum: 1\nlr: 0.01\nlora-targets: [q_proj, v_proj]\nlora-rank: 4\ndevice: wasm\n`,
    );
    const out = join(dir, "yaml-run");
    const r = cli(["train", "--config", yaml, "--out", out, "--progress", "none", "--seed", "3"]);
    expect(r.status, r.stderr).toBe(0);
    const ck = join(out, "checkpoint-3");
    expect(JSON.parse(readFileSync(join(ck, "adapter_config.json"), "utf8"))).toMatchObject({
      r: 4,
      lora_alpha: 16,
      target_modules: ["q_proj", "v_proj"],
      base_model_name_or_path: "tiny:micro",
    });

    const merged = join(dir, "export-merged");
    const e = cli(["export", "--checkpoint", ck, "--out", merged, "--merge-lora", "--onnx"]);
    expect(e.status, e.stderr).toBe(0);
    const adapterOut = join(dir, "export-adapter");
    await exportCheckpoint({ checkpoint: ck, out: adapterOut });
    expect(readdirSync(adapterOut).sort()).toEqual([
      "adapter_config.json",
      "adapter_model.safetensors",
      "base",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);

    // the merged folder scores like the checkpoint's policy (base + adapters)
    const fromMerged = await computeLogprobs({ model: merged, data, engine: wasm });
    const fromCheckpoint = await computeLogprobs({ model: createTinyModel("micro", 3), data, checkpoint: ck, engine: wasm });
    fromMerged.slice(0, 3).forEach((rec, i) => expect(rec.logps["y1|x1"]).toBeCloseTo(fromCheckpoint[i].logps["y1|x1"], 3));
    const base = await computeLogprobs({ model: createTinyModel("micro", 3), data, engine: wasm });
    expect(Math.abs(base[0].logps["y1|x1"] - fromCheckpoint[0].logps["y1|x1"])).toBeGreaterThan(1e-3);

    // model.onnx: input_ids, attention_mask, position_ids -> logits, equal to the training graph's forward
    const m = await loadModel(merged);
    const ort = (await import("onnxruntime-web")).default ?? (await import("onnxruntime-web"));
    const session = await ort.InferenceSession.create(readFileSync(join(merged, "model.onnx")), { executionProviders: ["wasm"] });
    const ids = m.tokenizer.encode("Owls are quiet.");
    const T = ids.length;
    const i32 = (a: number[]) => new ort.Tensor("int32", Int32Array.from(a), [1, T]);
    const res = await session.run({ input_ids: i32(ids), attention_mask: i32(ids.map(() => 1)), position_ids: i32(ids.map((_, i) => i)) });
    const logits = res.logits.data as Float32Array;
    expect(res.logits.dims).toEqual([1, T, m.config.vocabSize]);
    const again = inferenceOnnx(m.config, m.weights, 64).bytes;
    const s2 = await ort.InferenceSession.create(again, { executionProviders: ["wasm"] });
    const res2 = await s2.run({ input_ids: i32(ids), attention_mask: i32(ids.map(() => 1)), position_ids: i32(ids.map((_, i) => i)) });
    expect(Array.from(res2.logits.data as Float32Array).slice(0, 50)).toEqual(Array.from(logits).slice(0, 50));
    // the response log-prob from the ONNX logits equals computeLogprobs on the merged model
    const enc = m.tokenizer.encodePair([{ role: "user", content: "Hi." }], "Owls.");
    const seq = [...enc.prompt, ...enc.response];
    const L = seq.length;
    const r3 = await s2.run({
      input_ids: new ort.Tensor("int32", Int32Array.from(seq), [1, L]),
      attention_mask: new ort.Tensor("int32", new Int32Array(L).fill(1), [1, L]),
      position_ids: new ort.Tensor("int32", Int32Array.from(seq.map((_, i) => i)), [1, L]),
    });
    const lg = r3.logits.data as Float32Array;
    const V = m.config.vocabSize;
    let lp = 0;
    for (let t = enc.prompt.length; t < L; t++) {
      const row = lg.subarray((t - 1) * V, t * V);
      const mx = Math.max(...row);
      lp += row[seq[t]] - mx - Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
    }
    const viaTrainer = await computeLogprobs({
      model: m,
      data: datasetOf([{ kind: "sft", id: "x", prompt: [{ role: "user", content: "Hi." }], response: "Owls." }]),
      engine: wasm,
    });
    expect(lp).toBeCloseTo(viaTrainer[0].logps.response, 3);
  });
});
