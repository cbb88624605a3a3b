/**
 * The trainer (@iopo/gpu-trainer) end to end through the real dataset API: start the Worker locally
 * (its own D1), import quadruples, freeze a version, train a tiny model from api:// (CLI), resume,
 * export; shards are verified against the manifest's sha256 and cached; a server whose shard does
 * not match its manifest is refused.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmEngine, type Engine, exportCheckpoint, fetchApiDataset, loadModel, train } from "@iopo/gpu-trainer";
// @ts-expect-error -- plain ESM helper shared with the benchmarks and the Node tests
import { startServer } from "../../scripts/lib/server.mjs";

/** `iopo-train` as `npx iopo-train` runs it: the bin npm links for the @iopo/gpu-trainer workspace. */
const IOPO_TRAIN = join(import.meta.dirname, "../../node_modules/.bin/iopo-train");

const dir = mkdtempSync(join(tmpdir(), "iopo-e2e-"));
const cacheDir = join(dir, "cache");
let server: { base: string; port: number; adminToken: string; stop(): Promise<void> };
let wasm: Engine;

beforeAll(async () => {
  [server, wasm] = await Promise.all([startServer(), createWasmEngine()]);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await wasm?.close();
  rmSync(dir, { recursive: true, force: true });
});

const instruction = (content: string) => {
  const [description, ...constraints] = content.split("\n");
  return { description, constraints: constraints.map((text) => ({ text })) };
};

/**
 * Eight toy IOPO records a tiny model can learn: the same task asked in lower case (x1) and in
 * capital letters (x2), each answered in its own case; y1 fails x2 and y2 fails x1.
 */
function toyQuadrupleRecords() {
  const topics = ["owls", "rivers", "bridges", "tea", "glaciers", "chess", "volcanoes", "gardens"];
  const adjectives = ["old", "quiet", "bright", "strong", "useful", "famous", "small", "vast"];
  return topics.map((topic, i) => {
    const task = `Write a short text about ${topic}.`;
    const text = `${topic.charAt(0).toUpperCase()}${topic.slice(1)} are ${adjectives[(i * 3) % adjectives.length]}.`;
    return {
      kind: "iopo",
      x1: instruction(`${task}\nYour entire response should be in English, and in all lowercase letters.`),
      y1: text.toLowerCase(),
      x2: instruction(`${task}\nYour entire response should be in English, and in all capital letters.`),
      y2: text.toUpperCase(),
    };
  });
}

async function api(path: string, init: RequestInit & { json?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${server.adminToken}` };
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${server.base}${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe("train from the dataset API", () => {
  const name = "e2e-quads";
  let url: string;
  beforeAll(async () => {
    await api("/v1/datasets", { method: "POST", json: { name, visibility: "public" } });
    const records: object[] = toyQuadrupleRecords();
    // one record with no line in the iopo format: the trainer must place the others by id
    records.splice(3, 0, { kind: "instruction", instruction: instruction("Describe tea.\nUse ten words.") });
    await api(`/v1/datasets/${name}/records`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: records.map((r) => JSON.stringify(r)).join("\n") + "\n",
    });
    const v = await api(`/v1/datasets/${name}/versions`, { method: "POST", json: { shard_size: 4 } });
    url = `api://127.0.0.1:${server.port}/datasets/${name}@${v.version}`;
  }, 60_000);

  it("downloads and verifies every shard, caches it, and maps lines to record positions", async () => {
    const ds = await fetchApiDataset(url, { format: "iopo", cacheDir });
    expect(ds.records).toHaveLength(9);
    expect(ds.records[3]).toEqual([]); // the instruction record
    expect(ds.records.filter((r) => r.length === 1)).toHaveLength(8);
    expect(ds.records[0][0]).toMatchObject({ kind: "iopo", y1: "owls are old." });
    const shards = join(cacheDir, "datasets", `127.0.0.1_${server.port}`, name, "v1");
    expect(readdirSync(join(shards, "iopo"))).toHaveLength(3);
    expect(existsSync(join(shards, "records"))).toBe(true); // fetched for the shard with a gap only
    // a corrupted cache file is detected and replaced
    const first = join(shards, "iopo", readdirSync(join(shards, "iopo"))[0]);
    writeFileSync(first, "garbage\n");
    const again = await fetchApiDataset(url, { format: "iopo", cacheDir });
    expect(again.records).toEqual(ds.records);
    expect(readFileSync(first, "utf8")).not.toBe("garbage\n");
    const dpo = await fetchApiDataset(url, { format: "dpo", cacheDir });
    expect(dpo.records[0].map((s) => s.id.slice(-3))).toEqual([":x1", ":x2"]);
  });

  it("too few examples for one step: says what the dataset holds and what would use the rest", async () => {
    const run = train({
      model: "tiny:micro",
      data: url,
      method: "iopo",
      out: join(dir, "too-few"),
      batchSize: 16,
      engine: wasm,
      cacheDir,
      log: () => {},
    });
    await expect(run).rejects.toThrow(
      'one optimizer step needs 128 examples (--batch-size x --grad-accum) but the training split has 8: dataset "e2e-quads" holds 8 iopo records, 1 instruction, and --method iopo trains on iopo records; instruction records (prompts without responses) train no method: `iopo build-trace` answers them into sft records, `iopo-train eval --dataset` scores a model on them',
    );
  });

  it("says what a version holds when the method's format has no lines in it", async () => {
    await api("/v1/datasets", { method: "POST", json: { name: "e2e-prompts", visibility: "public" } });
    await api("/v1/datasets/e2e-prompts/records", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: `${JSON.stringify({ kind: "instruction", instruction: instruction("Describe tea.\nUse ten words.") })}\n`,
    });
    await api("/v1/datasets/e2e-prompts/versions", { method: "POST", json: {} });
    const refused = fetchApiDataset(`api://127.0.0.1:${server.port}/datasets/e2e-prompts@1`, { format: "iopo", cacheDir });
    await expect(refused).rejects.toThrow(
      'dataset "e2e-prompts" version 1: Version 1 of "e2e-prompts" holds instruction records, which have no lines in format "iopo" (it takes iopo records). Formats that fit: records.',
    );
  });

  it("trains a tiny model from api:// with the CLI, resumes, and exports", async () => {
    const out = join(dir, "run");
    const args = [
      "train",
      "--model",
      "tiny:micro",
      "--data",
      url,
      "--method",
      "iopo",
      "--out",
      out,
      "--batch-size",
      "2",
      "--grad-accum",
      "1",
      "--lr",
      "5e-3",
      "--save-every",
      "2",
      "--scheduler",
      "constant",
      "--device",
      "wasm",
      "--progress",
      "none",
      "--cache-dir",
      cacheDir,
    ];
    const r = spawnSync(process.execPath, [IOPO_TRAIN, ...args, "--max-steps", "4"], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/e2e-quads@1 \(iopo\): 9 records, 8 lines, 3 shard\(s\) verified/);
    expect(r.stderr).toMatch(/8 training examples/);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ steps: 4, examples: 8 });
    expect(Math.abs(JSON.parse(readFileSync(join(out, "metrics.jsonl"), "utf8").split("\n")[0]).loss - Math.LN2)).toBeLessThan(2e-6);

    const resumed = await train({
      model: "tiny:micro",
      data: url,
      method: "iopo",
      out,
      batchSize: 2,
      gradAccum: 1,
      lr: 5e-3,
      saveEvery: 2,
      scheduler: "constant",
      maxSteps: 6,
      resume: true,
      engine: wasm,
      cacheDir,
      log: () => {},
      progress: "none",
    });
    expect(resumed.summary.resumedFrom).toBe(4);
    expect(resumed.metrics.map((m) => m.step)).toEqual([5, 6]);
    expect(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(6);
    const state = JSON.parse(readFileSync(join(resumed.checkpoint, "trainer_state.json"), "utf8"));
    expect(state.data.key).toBe(`api:127.0.0.1_${server.port}/e2e-quads@1/iopo`);
    expect(state.cursor).toEqual({ epoch: 1, sample: 4 }); // 8 examples/epoch, 6 steps of 2

    const exported = join(dir, "exported");
    const e = await exportCheckpoint({ checkpoint: resumed.checkpoint, out: exported, mergeLora: true, onnx: true });
    expect(e.files).toContain("model.onnx");
    const m = await loadModel(exported);
    expect(m.config.architecture).toBe("llama");
  });

  it("DPO reads the dpo shards of the same version (two pairs per quadruple)", async () => {
    const r = await train({
      model: "tiny:micro",
      data: url,
      method: "dpo",
      out: join(dir, "dpo"),
      batchSize: 4,
      gradAccum: 1,
      maxSteps: 1,
      engine: wasm,
      cacheDir,
      log: () => {},
      progress: "none",
    });
    expect(Math.abs(r.metrics[0].loss - Math.LN2)).toBeLessThan(2e-6);
    expect(r.metrics[0]["rewards/chosen"]).toBeCloseTo(0, 5);
  });
});

describe("a server whose shard does not match its manifest", () => {
  let fake: Server;
  let port = 0;
  beforeAll(async () => {
    const body = JSON.stringify({ id: "a", x1: "x", y1: "y", x2: "x2", y2: "y2" }) + "\n";
    fake = createServer((req, res) => {
      if (req.url?.includes("/manifest")) {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            dataset: "bad",
            version: 1,
            format: "iopo",
            record_count: 1,
            line_count: 1,
            shard_size: 1,
            shard_count: 1,
            shards: [
              {
                index: 0,
                name: "train-00000-of-00001",
                records: 1,
                lines: 1,
                bytes: body.length,
                sha256: "0".repeat(64),
                url: "/v1/datasets/bad/versions/1/shards/0?format=iopo",
              },
            ],
          }),
        );
      } else res.end(body);
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", () => r()));
    port = (fake.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => fake.close(() => r())));

  it("is refused in one line, and nothing is cached or written", async () => {
    const out = join(dir, "tampered");
    // asynchronously: the fake server answers from this process's event loop
    const child = spawn(process.execPath, [
      IOPO_TRAIN,
      "train",
      "--model",
      "tiny:micro",
      "--data",
      `api://127.0.0.1:${port}/datasets/bad`,
      "--method",
      "iopo",
      "--out",
      out,
      "--cache-dir",
      join(dir, "cache-bad"),
    ]);
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const status = await new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    const r = { status, stderr };
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/shard 0 of bad@1 \(iopo\) failed its sha256 check: manifest 0{64}, downloaded [0-9a-f]{64}/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, "cache-bad", "datasets", `127.0.0.1_${port}`, "bad", "v1", "iopo", "train-00000-of-00001.ndjson"))).toBe(
      false,
    );
  });
});
