import { env } from "cloudflare:workers";
import type { DatasetVersion, Manifest } from "@iopo/common";
import { describe, expect, it } from "vitest";
import { insertChunks, parseRecordsBody, prepareRecords } from "../../src/datasets/store/ingest.ts";
import { ADMIN, call, createKey, expectProblem, postJson, textOf } from "./helpers.ts";

const ndjson = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

function postNdjson(path: string, body: string, headers: Record<string, string> = ADMIN) {
  return call(path, { method: "POST", headers: { "content-type": "application/x-ndjson", ...headers }, body });
}

const instruction = (
  description: string,
  constraints: { text: string; dimension?: string; checker?: { id: string; kwargs: Record<string, unknown> } }[] = [],
) => ({
  description,
  constraints,
});

const sftRecord = (i: number) => ({
  kind: "sft",
  instruction: instruction(`Write about topic ${i}`, [
    { text: "1. Use fewer than 50 words;", dimension: "Numerical Constraint" },
    ...(i % 2 === 0 ? [{ text: "2. Be formal.", dimension: "语气风格约束" }] : []),
  ]),
  response: `A response about topic ${i}.`,
});

const iopoRecord = (i: number) => ({
  kind: "iopo",
  x1: instruction(`Task ${i}`, [{ text: "Answer in English.", dimension: "Multilingual Constraint" }]),
  y1: `English answer ${i}`,
  x2: instruction(`Task ${i}`, [{ text: "Answer in French.", dimension: "Multilingual Constraint" }]),
  y2: `Réponse ${i}`,
});

async function makeDataset(name: string, visibility = "public", headers = ADMIN) {
  const res = await postJson("/v1/datasets", { name, description: "test data", visibility }, headers);
  expect(res.status).toBe(201);
}

async function count(name: string) {
  return (await env.DB.prepare("SELECT count(*) AS n FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE d.name = ?")
    .bind(name)
    .first<{ n: number }>())!.n;
}

async function sha256(bytes: ArrayBuffer) {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("datasets: creation and access", () => {
  it("creates a dataset and refuses a duplicate name or a bad one", async () => {
    await makeDataset("alpha");
    const dup = await expectProblem(await postJson("/v1/datasets", { name: "alpha" }, ADMIN), 409);
    expect(dup.errors?.[0]?.field).toBe("body.name");
    const bad = await expectProblem(await postJson("/v1/datasets", { name: "Has Spaces" }, ADMIN), 422);
    expect(bad.errors?.[0]?.field).toBe("body.name");
    await expectProblem(await postJson("/v1/datasets", { name: "beta" }), 401);
    const reader = await createKey(["read"]);
    await expectProblem(await postJson("/v1/datasets", { name: "beta" }, { authorization: `Bearer ${reader.key}` }), 403);
  });

  it("gives a name to exactly one of concurrent creators; the others get 409, never a 500", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => postJson("/v1/datasets", { name: "raced" }, ADMIN)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const res of results.filter((r) => r.status === 409)) expect((await expectProblem(res, 409)).errors?.[0]?.field).toBe("body.name");
  });

  it("hides private datasets from everyone but the owner and admins", async () => {
    const owner = await createKey(["write"]);
    const other = await createKey(["write"]);
    const asOwner = { authorization: `Bearer ${owner.key}` };
    const asOther = { authorization: `Bearer ${other.key}` };
    await makeDataset("secret", "private", asOwner);
    expect((await postNdjson("/v1/datasets/secret/records", ndjson([sftRecord(1)]), asOwner)).status).toBe(200);

    await expectProblem(await call("/v1/datasets/secret"), 404);
    await expectProblem(await call("/v1/datasets/secret", { headers: asOther }), 404);
    await expectProblem(await call("/v1/datasets/secret/rows", { headers: asOther }), 404);
    await expectProblem(await postNdjson("/v1/datasets/secret/records", ndjson([sftRecord(2)]), asOther), 404);
    expect((await call("/v1/datasets/secret", { headers: asOwner })).status).toBe(200);
    expect((await call("/v1/datasets/secret", { headers: ADMIN })).status).toBe(200);

    const listed = async (headers: Record<string, string> = {}) =>
      ((await (await call("/v1/datasets", { headers })).json()) as { datasets: { name: string }[] }).datasets.map((d) => d.name);
    expect(await listed()).not.toContain("secret");
    expect(await listed(asOther)).not.toContain("secret");
    expect(await listed(asOwner)).toContain("secret");

    // a public dataset is readable by all but writable only by its owner or an admin
    await makeDataset("open", "public", asOwner);
    await expectProblem(await postNdjson("/v1/datasets/open/records", ndjson([sftRecord(3)]), asOther), 403);
    expect((await postNdjson("/v1/datasets/open/records", ndjson([sftRecord(3)]), ADMIN)).status).toBe(200);
  });

  it("does not reveal a private dataset's name: it lives in its owner's namespace", async () => {
    const owner = await createKey(["write"]);
    const other = await createKey(["write"]);
    const asOwner = { authorization: `Bearer ${owner.key}` };
    const asOther = { authorization: `Bearer ${other.key}` };
    await makeDataset("hidden-name", "private", asOwner);
    await postNdjson("/v1/datasets/hidden-name/records", ndjson([sftRecord(1)]), asOwner);
    // another key gets the answers a free name gets: it may create a dataset of that name, its own
    await expectProblem(await call("/v1/datasets/hidden-name", { headers: asOther }), 404);
    const created = await postJson("/v1/datasets", { name: "hidden-name", visibility: "private" }, asOther);
    expect(created.status).toBe(201);
    await postNdjson("/v1/datasets/hidden-name/records", ndjson([sftRecord(2), sftRecord(3)]), asOther);
    const seen = async (headers: Record<string, string>) =>
      ((await (await call("/v1/datasets/hidden-name", { headers })).json()) as { record_count: number }).record_count;
    expect(await seen(asOwner)).toBe(1);
    expect(await seen(asOther)).toBe(2);
    // a public dataset of that name is possible too; each owner keeps reaching their own
    expect((await postJson("/v1/datasets", { name: "hidden-name" }, ADMIN)).status).toBe(201);
    expect(await seen(asOwner)).toBe(1);
    expect((await call("/v1/datasets/hidden-name")).status).toBe(200);
    expect(await seen({})).toBe(0);
    // names visible to the caller still conflict
    await expectProblem(await postJson("/v1/datasets", { name: "hidden-name", visibility: "private" }, asOwner), 409);
    const third = await createKey(["write"]);
    await expectProblem(
      await postJson("/v1/datasets", { name: "hidden-name", visibility: "private" }, { authorization: `Bearer ${third.key}` }),
      409,
    );
  });
});

describe("datasets: ingestion", () => {
  it("validates every line and writes nothing when any is invalid", async () => {
    await makeDataset("strict");
    const body = [
      JSON.stringify(sftRecord(1)),
      "",
      "{not json",
      JSON.stringify({ kind: "sft", instruction: instruction("x"), response: 42 }),
      JSON.stringify({ ...sftRecord(5), instruction: instruction("y", [{ text: "t", dimension: "No Such Dimension" }]) }),
      JSON.stringify({ kind: "banana" }),
      JSON.stringify(sftRecord(7)),
    ].join("\n");
    const problem = await expectProblem(await postNdjson("/v1/datasets/strict/records", body), 422);
    const byLine = new Map(problem.errors!.map((e) => [e.line, e.field]));
    expect([...byLine.keys()].sort()).toEqual([3, 4, 5, 6]);
    expect(byLine.get(4)).toBe("response");
    expect(byLine.get(5)).toBe("instruction.constraints.0.dimension");
    expect(problem.detail).toContain("nothing was written");
    expect(await count("strict")).toBe(0);
  });

  it("is idempotent: a record's id is its content hash", async () => {
    await makeDataset("idem");
    const first = await postNdjson("/v1/datasets/idem/records", ndjson([sftRecord(1), sftRecord(2), sftRecord(1)]));
    expect(await first.json()).toEqual({ received: 3, inserted: 2, duplicates: 1, record_count: 2 });
    const again = await postNdjson("/v1/datasets/idem/records", ndjson([sftRecord(2), sftRecord(3)]));
    expect(await again.json()).toEqual({ received: 2, inserted: 1, duplicates: 1, record_count: 3 });
    // key order does not change the id
    const reordered = { response: "A response about topic 3.", instruction: sftRecord(3).instruction, kind: "sft" };
    expect(await (await postNdjson("/v1/datasets/idem/records", ndjson([reordered]))).json()).toMatchObject({ inserted: 0, duplicates: 1 });
    expect(await count("idem")).toBe(3);
    const positions = await env.DB.prepare(
      "SELECT position FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE d.name = 'idem' ORDER BY position",
    ).all<{ position: number }>();
    expect(positions.results.map((r) => r.position)).toEqual([0, 1, 2]);
  });

  it("accepts a JSON array and chunks large requests under D1's limits atomically", async () => {
    await makeDataset("bulk");
    const records = Array.from({ length: 2500 }, (_, i) => ({ ...sftRecord(i), response: `${"long text ".repeat(100)}${i}` }));
    const res = await postJson("/v1/datasets/bulk/records", records, ADMIN);
    expect(await res.json()).toMatchObject({ inserted: 2500, record_count: 2500 });
    expect(await count("bulk")).toBe(2500);
    // one bad record at the very end of a large request: nothing of it is written
    const more = Array.from({ length: 2000 }, (_, i) => sftRecord(10_000 + i));
    (more[1999] as Record<string, unknown>).response = null;
    const problem = await expectProblem(await postJson("/v1/datasets/bulk/records", more, ADMIN), 422);
    expect(problem.errors![0]!.line).toBe(2000);
    expect(await count("bulk")).toBe(2500);
  });

  it("rejects wrong content types, empty bodies and too many records", async () => {
    await makeDataset("types");
    await expectProblem(
      await call("/v1/datasets/types/records", { method: "POST", headers: { ...ADMIN, "content-type": "text/csv" }, body: "a,b" }),
      415,
    );
    await expectProblem(await postNdjson("/v1/datasets/types/records", "\n\n"), 422);
    await expectProblem(await postJson("/v1/datasets/types/records", { kind: "sft" }, ADMIN), 422);
    await expectProblem(await postNdjson("/v1/datasets/nope/records", ndjson([sftRecord(1)])), 404);
    const tooMany = Array.from({ length: 10_001 }, () => "{}").join("\n");
    await expectProblem(await postNdjson("/v1/datasets/types/records", tooMany), 413);
  });
});

describe("datasets: limits on a record", () => {
  it("refuses deep nesting (422, not a stack overflow) and an oversized meta", async () => {
    await makeDataset("limits");
    const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const line = (meta: string) => `{"kind":"instruction","instruction":{"description":"x","constraints":[]},"meta":${meta}}`;
    const nested = await expectProblem(await postNdjson("/v1/datasets/limits/records", `${line(deep)}\n`), 422);
    expect(nested.errors).toEqual([{ field: "meta", line: 1, message: "nests deeper than 64 levels" }]);
    const big = await expectProblem(
      await postNdjson("/v1/datasets/limits/records", `${line(JSON.stringify({ notes: "x".repeat(5_000_000) }))}\n`),
      422,
    );
    expect(big.errors).toEqual([{ field: "meta", line: 1, message: "at most 65536 characters of JSON" }]);
    expect(
      (await postNdjson("/v1/datasets/limits/records", `${line(JSON.stringify({ source: "s", tags: [["a", ["b"]]] }))}\n`)).status,
    ).toBe(200);
  });

  it("refuses a record over D1's 2 MB row limit by line, and packs inserts by UTF-8 bytes under it", async () => {
    await makeDataset("d1-limits");
    // 3 bytes per character in UTF-8: 700,000 characters are 2.1 MB stored (the local D1 would take it; Cloudflare's not)
    const wide = (chars: number, i: number) => ({
      kind: "sft",
      instruction: instruction(`Write about topic ${i}`, [{ text: "Answer in Chinese." }]),
      response: "中".repeat(chars),
    });
    const lines = ndjson([wide(10, 1), wide(700_000, 2)]);
    const problem = await expectProblem(await postNdjson("/v1/datasets/d1-limits/records", lines), 422);
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors![0]).toMatchObject({ field: "record", line: 2 });
    expect(problem.errors![0]!.message).toMatch(/^is 2,100,\d{3} bytes as stored; D1 stores at most 2,000,000 bytes in one row$/);
    expect(await count("d1-limits")).toBe(0);

    // just under the limit it is stored whole; records of 450 KB each go three to a statement, never 2 MB
    const parsed = parseRecordsBody(ndjson([wide(600_000, 3), ...Array.from({ length: 7 }, (_, i) => wide(150_000, 10 + i))]), true);
    const { prepared } = await prepareRecords(parsed, new Map(), () => null);
    const chunks = insertChunks(prepared).map((c) => ({ rows: c.rows, bytes: new TextEncoder().encode(c.json).byteLength }));
    expect(chunks.map((c) => c.rows)).toEqual([1, 2, 2, 2, 1]);
    for (const c of chunks) expect(c.bytes).toBeLessThanOrEqual(c.rows === 1 ? 2_000_000 : 1_000_000);
    const res = await postNdjson("/v1/datasets/d1-limits/records", ndjson([wide(600_000, 3)]));
    expect(res.status).toBe(200);
    const stored = await env.DB.prepare(
      "SELECT length(json_extract(payload, '$.response')) AS n FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE d.name = 'd1-limits'",
    ).first<{ n: number }>();
    expect(stored!.n).toBe(600_000);
  });

  it("answers a writer that keeps losing to concurrent writers 409 with Retry-After; nothing is written", async () => {
    await makeDataset("contended");
    // another writer holds the next position (its batch has not committed the count yet)
    const dataset = (await env.DB.prepare("SELECT id, record_count FROM datasets WHERE name = 'contended'").first<{
      id: string;
      record_count: number;
    }>())!;
    await env.DB.prepare(
      "INSERT INTO records (dataset_id, id, position, kind, payload, constraint_count, dimensions) VALUES (?, 'other-writer', ?, 'sft', '{}', 0, '[]')",
    )
      .bind(dataset.id, dataset.record_count)
      .run();
    const res = await postNdjson("/v1/datasets/contended/records", ndjson([sftRecord(1)]));
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await expectProblem(res, 409)).detail).toContain("retry");
    expect(await count("contended")).toBe(1);
  });
});

describe("datasets: browsing and statistics", () => {
  it("reports counts by kind, the constraints histogram and dimension counts", async () => {
    await makeDataset("stats");
    await postNdjson("/v1/datasets/stats/records", ndjson([sftRecord(1), sftRecord(2), sftRecord(4), iopoRecord(1)]));
    const body = (await (await call("/v1/datasets/stats")).json()) as {
      record_count: number;
      statistics: {
        by_kind: Record<string, number>;
        constraints_histogram: Record<string, number>;
        constraints_by_dimension: Record<string, number>;
        constraints_by_type: Record<string, number>;
      };
    };
    expect(body.record_count).toBe(4);
    expect(body.statistics.by_kind).toEqual({ sft: 3, iopo: 1 });
    expect(body.statistics.constraints_histogram).toEqual({ "1": 2, "2": 2 });
    expect(body.statistics.constraints_by_dimension).toEqual({
      "Numerical Constraint": 3,
      "Tone and Style Constraint": 2,
      "Multilingual Constraint": 1,
    });
    expect(body.statistics.constraints_by_type).toEqual({ "Content Constraint": 3, "Style Constraint": 3 });
  });

  it("pages rows by offset and by keyset, with filters", async () => {
    await makeDataset("rows");
    await postNdjson("/v1/datasets/rows/records", ndjson([...Array.from({ length: 30 }, (_, i) => sftRecord(i)), iopoRecord(1)]));
    const page = (await (await call("/v1/datasets/rows/rows?offset=10&length=5")).json()) as {
      rows: { row_idx: number; row: { kind: string } }[];
      num_rows_total: number;
    };
    expect(page.rows.map((r) => r.row_idx)).toEqual([10, 11, 12, 13, 14]);
    expect(page.num_rows_total).toBe(31);

    const seen: number[] = [];
    let after: number | null = -1;
    while (after !== null) {
      const res = (await (await call(`/v1/datasets/rows/rows?length=4&constraints=2&after=${after}`)).json()) as {
        rows: { row_idx: number }[];
        num_rows_total: number;
        next_after: number | null;
      };
      expect(res.num_rows_total).toBe(15);
      seen.push(...res.rows.map((r) => r.row_idx));
      after = res.next_after;
    }
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i * 2));

    const iopo = (await (await call("/v1/datasets/rows/rows?kind=iopo")).json()) as { rows: { row: { kind: string; y2: string } }[] };
    expect(iopo.rows).toHaveLength(1);
    expect(iopo.rows[0]!.row.y2).toBe("Réponse 1");
    const tone = (await (
      await call(`/v1/datasets/rows/rows?dimension=${encodeURIComponent("tone-and-style-constraint")}&length=100`)
    ).json()) as { num_rows_total: number };
    expect(tone.num_rows_total).toBe(15);
    await expectProblem(await call("/v1/datasets/rows/rows?length=101"), 422);
    // only plain decimal integers, and one way of paging at a time
    for (const query of ["after=0x10", "after=1e2", "offset=1.5", "offset=", "offset=1&after=3"]) {
      const problem = await expectProblem(await call(`/v1/datasets/rows/rows?${query}`), 422);
      expect(problem.errors![0]!.field).toMatch(/^query\.(after|offset)$/);
    }
    expect((await call("/v1/datasets/rows/rows?after=3")).status).toBe(200);
    await expectProblem(await call("/v1/datasets/rows/rows?dimension=nope"), 422);
  });
});

describe("datasets: versions, manifests and shards", () => {
  async function freeze(name: string, shardSize: number) {
    const res = await postJson(`/v1/datasets/${name}/versions`, { shard_size: shardSize }, ADMIN);
    expect(res.status).toBe(201);
    return (await res.json()) as DatasetVersion;
  }

  it("freezes an immutable version whose shard hashes equal the served bytes", async () => {
    await makeDataset("shards");
    await postNdjson("/v1/datasets/shards/records", ndjson([...Array.from({ length: 7 }, (_, i) => iopoRecord(i)), sftRecord(1)]));
    const v1 = await freeze("shards", 3);
    expect(v1).toMatchObject({ version: 1, record_count: 8, shard_count: 3 });
    // records added later are not in version 1
    await postNdjson("/v1/datasets/shards/records", ndjson([iopoRecord(100)]));
    expect((await freeze("shards", 3)).version).toBe(2);

    for (const format of ["records", "iopo", "dpo", "sft", "llamafactory"]) {
      const manifest = (await (await call(`/v1/datasets/shards/versions/1/manifest?format=${format}`)).json()) as Manifest;
      expect(manifest.record_count).toBe(8);
      expect(manifest.shards.map((s) => s.records)).toEqual([3, 3, 2]);
      expect(manifest.shards[0]!.name).toBe("train-00000-of-00003.ndjson");
      let lines = 0;
      for (const shard of manifest.shards) {
        const res = await call(shard.url);
        expect(res.status).toBe(200);
        expect(res.headers.get("etag")).toBe(`"${shard.sha256}"`);
        const bytes = await res.arrayBuffer();
        expect(bytes.byteLength).toBe(shard.bytes);
        expect(await sha256(bytes)).toBe(shard.sha256);
        const text = new TextDecoder().decode(bytes);
        expect(text === "" ? 0 : text.trimEnd().split("\n").length).toBe(shard.lines);
        lines += shard.lines;
      }
      expect(manifest.line_count).toBe(lines);
      const expected = { records: 8, iopo: 7, dpo: 14, sft: 15, llamafactory: 7 }[format];
      expect(lines).toBe(expected);
    }
  });

  it("exports IOPO records as the paper's token-controlled DPO and SFT baselines", async () => {
    await makeDataset("baselines");
    await postNdjson("/v1/datasets/baselines/records", ndjson([iopoRecord(1)]));
    await freeze("baselines", 10);
    const lines = async (format: string) =>
      (await textOf(await call(`/v1/datasets/baselines/versions/1/shards/0?format=${format}`)))
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
    const x1 = "Task 1\nAnswer in English.\n";
    const x2 = "Task 1\nAnswer in French.\n";
    const [iopo] = await lines("iopo");
    expect(iopo).toMatchObject({ x1, y1: "English answer 1", x2, y2: "Réponse 1" });
    const dpo = await lines("dpo");
    expect(dpo.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))).toEqual([
      { prompt: x1, chosen: "English answer 1", rejected: "Réponse 1" },
      { prompt: x2, chosen: "Réponse 1", rejected: "English answer 1" },
    ]);
    const sft = await lines("sft");
    expect(sft.map(({ prompt, response }) => ({ prompt, response }))).toEqual([
      { prompt: x1, response: "English answer 1" },
      { prompt: x2, response: "Réponse 1" },
    ]);
    const [lf] = await lines("llamafactory");
    expect(lf).toMatchObject({
      conversations: [
        { from: "human", value: x1 },
        { from: "human", value: x2 },
      ],
      chosen: { from: "gpt", value: "English answer 1" },
      rejected: { from: "gpt", value: "Réponse 1" },
    });
  });

  it("returns the latest version when freezing again adds nothing", async () => {
    await makeDataset("refreeze");
    await postNdjson("/v1/datasets/refreeze/records", ndjson([sftRecord(1), sftRecord(2)]));
    const first = await freeze("refreeze", 10);
    const again = await postJson("/v1/datasets/refreeze/versions", { shard_size: 10 }, ADMIN);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { version: number }).version).toBe(first.version);
    // a different shard size, or new records, make a new version
    expect((await freeze("refreeze", 1)).version).toBe(first.version + 1);
    await postNdjson("/v1/datasets/refreeze/records", ndjson([sftRecord(3)]));
    expect((await freeze("refreeze", 1)).version).toBe(first.version + 2);
    const versions = (await (await call("/v1/datasets/refreeze/versions")).json()) as { versions: unknown[] };
    expect(versions.versions).toHaveLength(3);
  });

  it("supports ETag revalidation and byte-range resume", async () => {
    await makeDataset("resume");
    await postNdjson("/v1/datasets/resume/records", ndjson(Array.from({ length: 40 }, (_, i) => sftRecord(i))));
    await freeze("resume", 100);
    const full = await call("/v1/datasets/resume/versions/latest/shards/0");
    const etag = full.headers.get("etag")!;
    const bytes = new Uint8Array(await full.arrayBuffer());
    expect(full.headers.get("accept-ranges")).toBe("bytes");

    expect((await call("/v1/datasets/resume/versions/1/shards/0", { headers: { "if-none-match": etag } })).status).toBe(304);

    // resume after an interruption at byte 1234
    const rest = await call("/v1/datasets/resume/versions/1/shards/0", { headers: { range: "bytes=1234-", "if-range": etag } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get("content-range")).toBe(`bytes 1234-${bytes.length - 1}/${bytes.length}`);
    expect(new Uint8Array(await rest.arrayBuffer())).toEqual(bytes.subarray(1234));
    const middle = await call("/v1/datasets/resume/versions/1/shards/0", { headers: { range: "bytes=100-199" } });
    expect(new Uint8Array(await middle.arrayBuffer())).toEqual(bytes.subarray(100, 200));
    const suffix = await call("/v1/datasets/resume/versions/1/shards/0", { headers: { range: "bytes=-10" } });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 10));
    // a stale If-Range gets the whole body
    const stale = await call("/v1/datasets/resume/versions/1/shards/0", { headers: { range: "bytes=5-", "if-range": '"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    // If-None-Match compares weakly (RFC 9110): W/"x" matches "x"
    expect((await call("/v1/datasets/resume/versions/1/shards/0", { headers: { "if-none-match": `W/${etag}` } })).status).toBe(304);
    for (const range of [`bytes=${bytes.length}-`, "bytes=99999999-", "bytes=10-5"]) {
      const res = await call("/v1/datasets/resume/versions/1/shards/0", { headers: { range } });
      expect(res.headers.get("content-range")).toBe(`bytes */${bytes.length}`);
      const problem = await expectProblem(res, 416);
      expect(problem.errors![0]!.field).toBe("header.range");
    }

    await expectProblem(await call("/v1/datasets/resume/versions/1/shards/1"), 404);
    await expectProblem(await call("/v1/datasets/resume/versions/9/manifest"), 404);
    await expectProblem(await call("/v1/datasets/resume/versions/1/manifest?format=csv"), 422);
  });
});

describe("datasets: deterministic order", () => {
  it("gives the same order on every call, partitions ranks exactly and resumes without gap", async () => {
    await makeDataset("order");
    await postNdjson("/v1/datasets/order/records", ndjson(Array.from({ length: 53 }, (_, i) => sftRecord(i))));
    await postJson("/v1/datasets/order/versions", {}, ADMIN);
    type Order = { indices: number[]; rank_total: number; next: number | null };
    const get = async (q: string) => (await (await call(`/v1/datasets/order/versions/1/order?${q}`)).json()) as Order;

    const a = await get("seed=7&epoch=0");
    const b = await get("seed=7&epoch=0");
    expect(a.indices).toEqual(b.indices);
    expect([...a.indices].sort((x, y) => x - y)).toEqual(Array.from({ length: 53 }, (_, i) => i));
    expect(a.indices).not.toEqual(Array.from({ length: 53 }, (_, i) => i));
    expect((await get("seed=7&epoch=1")).indices).not.toEqual(a.indices);
    expect((await get("seed=8&epoch=0")).indices).not.toEqual(a.indices);

    const ranks = await Promise.all([0, 1, 2, 3].map((r) => get(`seed=7&epoch=0&rank=${r}&world_size=4`)));
    expect(ranks.map((r) => r.rank_total)).toEqual([14, 13, 13, 13]);
    const union = ranks.flatMap((r) => r.indices);
    expect(new Set(union).size).toBe(53);
    // rank r's k-th sample is the global sequence's (r + 4k)-th
    ranks.forEach((r, rank) => r.indices.forEach((idx, k) => expect(idx).toBe(a.indices[rank + 4 * k])));

    // resume: pages of 5 from any index reproduce the sequence exactly
    const resumed: number[] = [];
    let from: number | null = 0;
    while (from !== null) {
      const page = await get(`seed=7&epoch=0&rank=1&world_size=4&from=${from}&limit=5`);
      resumed.push(...page.indices);
      from = page.next;
    }
    expect(resumed).toEqual(ranks[1]!.indices);
    const fromSeven = await get("seed=7&epoch=0&rank=1&world_size=4&from=7");
    expect(fromSeven.indices).toEqual(ranks[1]!.indices.slice(7));

    await expectProblem(await call("/v1/datasets/order/versions/1/order?rank=4&world_size=4"), 422);
  });
});
