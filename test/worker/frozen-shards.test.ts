import { env } from "cloudflare:workers";
import type { Manifest } from "@iopo/common";
import { describe, expect, it } from "vitest";
import { exportLines, FORMAT_KINDS } from "../../src/datasets/export.ts";
import type { DatasetRecord } from "../../src/datasets/records.ts";
import { ADMIN, call, expectProblem, postJson } from "./helpers.ts";
import { callWith, postWith } from "./llm-helpers.ts";

// Frozen shards live in R2 (the SHARDS bucket, local under workerd), content-addressed by SHA-256.

const sft = (i: number) => ({
  kind: "sft",
  instruction: { description: `Write about topic ${i}`, constraints: [{ text: "Use fewer than 50 words." }] },
  response: `A response about topic ${i}, ${"with some padding ".repeat(i % 7)}`,
});
const plain = (i: number) => ({ kind: "instruction", instruction: { description: `Plain prompt ${i}`, constraints: [] } });

async function dataset(name: string, records: unknown[]) {
  expect((await postJson("/v1/datasets", { name }, ADMIN)).status).toBe(201);
  if (records.length === 0) return;
  const body = records.map((r) => JSON.stringify(r)).join("\n");
  const res = await call(`/v1/datasets/${name}/records`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson", ...ADMIN },
    body,
  });
  expect(res.status).toBe(200);
}

async function freeze(name: string, shardSize: number) {
  const res = await postJson(`/v1/datasets/${name}/versions`, { shard_size: shardSize }, ADMIN);
  expect(res.status).toBe(201);
}

const manifest = async (path: string) => (await (await call(path)).json()) as Manifest;
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const hexSha = async (bytes: Uint8Array) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
const key = (sha: string) => `shards/sha256/${sha}`;
const storedKeys = async () => new Set((await env.SHARDS.list({ prefix: "shards/" })).objects.map((o) => o.key));

describe("frozen shards in R2", () => {
  it("writes every shard of every fitting format to R2 at freeze and serves those bytes, not a re-encoding", async () => {
    await dataset(
      "frozen",
      Array.from({ length: 9 }, (_, i) => sft(i)),
    );
    await freeze("frozen", 4);
    const keys = await storedKeys();
    const manifests = {
      records: await manifest("/v1/datasets/frozen/versions/1/manifest"),
      sft: await manifest("/v1/datasets/frozen/versions/1/manifest?format=sft"),
    };
    for (const m of Object.values(manifests)) {
      expect(m.shards).toHaveLength(3);
      for (const s of m.shards) {
        expect(keys.has(key(s.sha256)), `${m.format} shard ${s.index}`).toBe(true);
        const object = await env.SHARDS.get(key(s.sha256));
        expect(await hexSha(new Uint8Array(await object!.arrayBuffer()))).toBe(s.sha256);
      }
    }
    // the freeze wrote them: reading the manifests added no object
    expect(await storedKeys()).toEqual(keys);

    // change the stored records behind the version's back: the frozen bytes are what is served
    await env.DB.prepare(
      "UPDATE records SET payload = json_set(payload, '$.response', 'rewritten') WHERE dataset_id = (SELECT id FROM datasets WHERE name = 'frozen')",
    ).run();
    for (const s of manifests.records.shards) {
      const res = await call(s.url);
      expect(res.headers.get("etag")).toBe(`"${s.sha256}"`);
      expect(await hexSha(await bytesOf(res))).toBe(s.sha256);
    }
    // a tail range is read from the stored object
    const last = manifests.sft.shards[2]!;
    const whole = await bytesOf(await call(last.url));
    const tail = await call(last.url, { headers: { range: "bytes=-7" } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get("content-range")).toBe(`bytes ${last.bytes - 7}-${last.bytes - 1}/${last.bytes}`);
    expect(await bytesOf(tail)).toEqual(whole.subarray(whole.length - 7));
    const middle = await call(last.url, { headers: { range: "bytes=3-10", "if-range": `"${last.sha256}"` } });
    expect(await bytesOf(middle)).toEqual(whole.subarray(3, 11));
    expect((await call(last.url, { headers: { "if-none-match": `"${last.sha256}"` } })).status).toBe(304);
  });

  it("stores a body once: a later version's unchanged shards are the same objects", async () => {
    await dataset(
      "shared",
      Array.from({ length: 4 }, (_, i) => sft(i)),
    );
    await freeze("shared", 2);
    const before = await storedKeys();
    await call("/v1/datasets/shared/records", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson", ...ADMIN },
      body: [sft(100), sft(101)].map((r) => JSON.stringify(r)).join("\n"),
    });
    await freeze("shared", 2);
    const v1 = await manifest("/v1/datasets/shared/versions/1/manifest");
    const v2 = await manifest("/v1/datasets/shared/versions/2/manifest");
    expect(v2.shards.slice(0, 2).map((s) => s.sha256)).toEqual(v1.shards.map((s) => s.sha256));
    // one new shard in each of the two formats sft records fit (records, sft)
    expect((await storedKeys()).size - before.size).toBe(2);
  });

  it("serves versions frozen before shards lived in R2, writing them on first use", async () => {
    await dataset(
      "older",
      Array.from({ length: 5 }, (_, i) => sft(i)),
    );
    await freeze("older", 3);
    const m = await manifest("/v1/datasets/older/versions/1/manifest");
    // as a version frozen by the old code: its summaries (or not) in D1, nothing in R2
    for (const s of m.shards) await env.SHARDS.delete(key(s.sha256));
    await env.DB.prepare(
      "DELETE FROM version_shards WHERE shard = 1 AND dataset_id = (SELECT id FROM datasets WHERE name = 'older')",
    ).run();
    for (const s of m.shards) {
      const res = await call(`/v1/datasets/older/versions/1/shards/${s.index}`, { headers: { range: "bytes=2-" } });
      expect(res.status).toBe(206);
      expect(res.headers.get("etag")).toBe(`"${s.sha256}"`);
      await res.arrayBuffer();
      expect(await env.SHARDS.head(key(s.sha256))).not.toBeNull();
    }
    expect((await manifest("/v1/datasets/older/versions/1/manifest")).shards).toEqual(m.shards);
  });

  it("serves a shard read once from the Cache API, without R2", async () => {
    await dataset(
      "cached",
      Array.from({ length: 3 }, (_, i) => sft(i)),
    );
    await freeze("cached", 10);
    const [s] = (await manifest("/v1/datasets/cached/versions/1/manifest?format=sft")).shards;
    const first = await bytesOf(await call(s!.url));
    // the copy into the cache runs after the response (waitUntil)
    const cache = (caches as unknown as { default: Cache }).default;
    for (let i = 0; i < 100 && !(await cache.match(`https://frozen-shards.iopo.internal/${key(s!.sha256)}`)); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await env.SHARDS.delete(key(s!.sha256));
    expect(await bytesOf(await call(s!.url))).toEqual(first);
    const part = await call(s!.url, { headers: { range: "bytes=5-9" } });
    expect(part.status).toBe(206);
    expect(await bytesOf(part)).toEqual(first.subarray(5, 10));
    // neither read went to R2 (a miss would have written the body back)
    expect(await env.SHARDS.head(key(s!.sha256))).toBeNull();
  });

  it("answers 422 naming the kinds present and the formats that fit, for a format with no lines", async () => {
    await dataset(
      "prompts-only",
      Array.from({ length: 3 }, (_, i) => plain(i)),
    );
    await freeze("prompts-only", 2);
    for (const path of ["manifest?format=iopo", "shards/0?format=sft", "shards/1?format=llamafactory"]) {
      const problem = await expectProblem(await call(`/v1/datasets/prompts-only/versions/1/${path}`), 422);
      expect(problem.detail).toContain("holds instruction records");
      expect(problem.detail).toContain("Formats that fit: records.");
      expect(problem.errors).toEqual([{ field: "query.format", message: "one of records" }]);
    }
    // only the fitting format was frozen
    const formats = await env.DB.prepare(
      "SELECT DISTINCT format FROM version_shards WHERE dataset_id = (SELECT id FROM datasets WHERE name = 'prompts-only')",
    ).all<{ format: string }>();
    expect(formats.results.map((r) => r.format)).toEqual(["records"]);
    expect((await call("/v1/datasets/prompts-only/versions/1/manifest?format=records")).status).toBe(200);
    // an empty version has no shards in any format, and says so without a 422
    await dataset("empty", []);
    await freeze("empty", 2);
    expect((await manifest("/v1/datasets/empty/versions/1/manifest?format=iopo")).shards).toEqual([]);
  });
});

describe("freezing as a job", () => {
  type Version = { version: number; state: string; freeze_job: string | null; shard_count: number };
  type Job = { id: string; kind: string; status: string; cursor: number; total: number; params: { batch_size: number } };
  // 40 D1/R2 calls a step: 3 shards of 2 sft records (1 page, 2 × 5 formats, 1 summary write = 12 calls each)
  const smallSteps = { FREEZE_STEP_CALLS: "40" };
  const records = Array.from({ length: 30 }, (_, i) => sft(i));
  const shardHashes = async (name: string, format: string) =>
    (await manifest(`/v1/datasets/${name}/versions/1/manifest?format=${format}`)).shards.map((s) => s.sha256);
  const jobOf = async (name: string, id: string) => (await (await call(`/v1/datasets/${name}/jobs/${id}`)).json()) as Job;

  it("a version of more shards than one step freezes through the queue, step by step, to the bytes the one-request freeze writes", async () => {
    await dataset("one-request", records);
    await freeze("one-request", 2);
    const inline = ((await (await call("/v1/datasets/one-request/versions")).json()) as { versions: Version[] }).versions[0]!;
    expect(inline).toMatchObject({ state: "frozen", shard_count: 15 });
    expect(await jobOf("one-request", inline.freeze_job!)).toMatchObject({ kind: "freeze-version", status: "done", total: 15 });

    await dataset("queued", records);
    const res = await postWith(smallSteps, "/v1/datasets/queued/versions", { shard_size: 2 }, ADMIN);
    expect(res.status).toBe(202);
    const version = (await res.json()) as Version;
    expect(version.state).toBe("freezing");
    const created = await jobOf("queued", version.freeze_job!);
    expect(created).toMatchObject({ kind: "freeze-version", total: 15, params: { batch_size: 3 } });
    let job = created;
    for (let i = 0; i < 200 && job.status !== "done"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = await jobOf("queued", version.freeze_job!);
    }
    expect(job).toMatchObject({ status: "done", cursor: 15 });
    // the job wrote every shard in both formats (a manifest would write a missing one on first use)
    const written = await env.DB.prepare(
      "SELECT count(*) AS n FROM version_shards WHERE version = 1 AND dataset_id = (SELECT id FROM datasets WHERE name = 'queued')",
    ).first<{ n: number }>();
    expect(written!.n).toBe(15 * 2);
    const listed = ((await (await call("/v1/datasets/queued/versions")).json()) as { versions: Version[] }).versions;
    expect(listed).toMatchObject([{ version: 1, state: "frozen", freeze_job: job.id }]);
    for (const format of ["records", "sft"]) expect(await shardHashes("queued", format)).toEqual(await shardHashes("one-request", format));
    for (const s of (await manifest("/v1/datasets/queued/versions/1/manifest?format=sft")).shards)
      expect(await hexSha(await bytesOf(await call(s.url)))).toBe(s.sha256);
  }, 30_000);

  it("a freezing version answers 409 (not partial data) until its job is done; a cancelled freeze can be frozen again", async () => {
    const noQueue = { ...smallSteps, JOB_QUEUE: undefined };
    await dataset("driven", records);
    await freeze("driven", 5); // version 1: frozen in its request
    const res = await postWith(noQueue, "/v1/datasets/driven/versions", { shard_size: 2 }, ADMIN);
    expect(res.status).toBe(202);
    const version = (await res.json()) as Version;
    const paths = ["versions/2/manifest", "versions/2/shards/0", "versions/2/order"];
    for (const path of paths) {
      const problem = await expectProblem(await call(`/v1/datasets/driven/${path}`), 409);
      expect(problem.detail).toContain(`freeze job ${version.freeze_job} is pending with 0 of 15 shards written`);
    }
    // `latest` is the newest frozen version meanwhile
    expect((await manifest("/v1/datasets/driven/versions/latest/manifest")).version).toBe(1);
    const run = async () => {
      const ran = await postWith(noQueue, `/v1/datasets/driven/jobs/${version.freeze_job}/run`, { max_batches: 1 }, ADMIN);
      expect(ran.status).toBe(200);
      return ((await ran.json()) as { job: Job }).job;
    };
    expect(await run()).toMatchObject({ status: "running", cursor: 3 });
    const problem = await expectProblem(await call("/v1/datasets/driven/versions/2/shards/0"), 409);
    expect(problem.detail).toContain("is running with 3 of 15 shards written");

    // cancelled: it stays unreadable, and freezing again makes a new version instead of returning it
    const cancel = await callWith(noQueue, `/v1/datasets/driven/jobs/${version.freeze_job}/cancel`, { method: "POST", headers: ADMIN });
    expect(cancel.status).toBe(200);
    expect((await expectProblem(await call("/v1/datasets/driven/versions/2/manifest"), 409)).detail).toContain("was cancelled");
    const again = await postWith(noQueue, "/v1/datasets/driven/versions", { shard_size: 2 }, ADMIN);
    expect(again.status).toBe(202);
    const third = (await again.json()) as Version;
    expect(third).toMatchObject({ version: 3, state: "freezing" });
    const ran = await postWith(noQueue, `/v1/datasets/driven/jobs/${third.freeze_job}/run`, { max_batches: 10 }, ADMIN);
    expect(((await ran.json()) as { job: Job }).job).toMatchObject({ status: "done", cursor: 15 });
    expect((await manifest("/v1/datasets/driven/versions/latest/manifest")).version).toBe(3);
    const states = ((await (await call("/v1/datasets/driven/versions")).json()) as { versions: Version[] }).versions.map((v) => v.state);
    expect(states).toEqual(["frozen", "cancelled", "frozen"]);
  }, 30_000);
});

describe("formats and kinds", () => {
  it("FORMAT_KINDS names exactly the kinds each format has lines for", () => {
    const x = { description: "Task", constraints: [] };
    const samples: DatasetRecord[] = [
      { kind: "instruction", instruction: x },
      { kind: "sft", instruction: x, response: "r" },
      { kind: "dpo", prompt: x, chosen: "a", rejected: "b" },
      { kind: "iopo", x1: x, y1: "a", x2: x, y2: "b" },
    ];
    for (const [format, kinds] of Object.entries(FORMAT_KINDS)) {
      for (const record of samples) {
        const lines = exportLines("id", record, format as keyof typeof FORMAT_KINDS);
        expect(lines.length > 0, `${record.kind} in ${format}`).toBe(kinds.includes(record.kind));
      }
    }
  });
});
