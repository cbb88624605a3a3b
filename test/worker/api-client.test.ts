/**
 * The one ApiClient (@iopo/common) against the real Worker: every answer the client's typed
 * methods return parses with the wire schema its type is inferred from (@iopo/common/api), and
 * parses to itself, so a field the Worker sends but the schema does not declare (zod drops it) is
 * drift too. The routes document their responses with the same schemas, so this also checks that
 * the OpenAPI document describes what the Worker really sends.
 */
import { env } from "cloudflare:workers";
import { ApiClient, ApiError, type JudgeResponse, type Taxonomy } from "@iopo/common";
import {
  DatasetDetailSchema,
  PagedRecordSchema,
  DatasetStatisticsSchema,
  IngestResultSchema,
  JobProgressSchema,
  JobRunSchema,
  JobSchema,
  JudgeResponseSchema,
  ManifestSchema,
  ProblemSchema,
  RowsPageSchema,
  SearchPageSchema,
  TaxonomySchema,
  VersionSchema,
} from "@iopo/common/api";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { z } from "@hono/zod-openapi";
import { call } from "./helpers.ts";
import { callWith, fakeLlm, unique, verdictJson } from "./llm-helpers.ts";

const BASE = "http://iopo.test";

/** The value, checked to be exactly what `schema` describes. */
function exactly<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`does not match the wire schema: ${parsed.error.message}\n${JSON.stringify(value)}`);
  expect(parsed.data, "a field the wire schema does not declare").toEqual(value);
  return parsed.data;
}

const sftRecord = (i: number) => ({
  kind: "sft",
  instruction: {
    description: `Write a few sentences about topic ${i}.`,
    constraints: [
      {
        text: "Answer with at least 5 words.",
        checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 5 } },
      },
    ],
  },
  response: i % 2 ? `Topic ${i} is worth learning about in some detail.` : "Too short.",
});

/** Bindings the Worker runs with for the client's requests (a test's fake-LLM session). */
let bindings: Record<string, unknown> = {};

beforeAll(() => {
  // the client's fetch reaches the Worker's own fetch handler; anything else (the fake LLM) goes out as before
  const outbound = globalThis.fetch;
  vi.stubGlobal("fetch", (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    return url.startsWith(BASE) ? callWith(bindings, url.slice(BASE.length), init) : outbound(input, init);
  });
});
afterEach(() => {
  bindings = {};
});
afterAll(() => vi.unstubAllGlobals());

describe("ApiClient against the Worker: answers match the shared wire schemas", () => {
  const api = new ApiClient(BASE, { key: env.ADMIN_TOKEN, attempts: 1 });

  it("datasets, records, rows, versions and manifests", async () => {
    await api.ensureDataset("client-drift", { description: "drift check", visibility: "private" });
    exactly(IngestResultSchema, await api.addRecords("client-drift", [1, 2, 3, 4].map(sftRecord)));

    const rows = await api.datasetRows("client-drift");
    expect(rows.map((r) => r.row_idx)).toEqual([0, 1, 2, 3]);
    for (const row of rows) exactly(PagedRecordSchema, row);
    exactly(RowsPageSchema, await api.getJson("/v1/datasets/client-drift/rows?length=2"));

    const version = exactly(VersionSchema, await api.createVersion("client-drift", { shard_size: 3, description: "v1" }));
    expect(version).toMatchObject({ version: 1, record_count: 4, shard_count: 2 });
    for (const v of await api.versions("client-drift")) exactly(VersionSchema, v);

    const detail = exactly(DatasetDetailSchema, await api.dataset("client-drift"));
    expect(detail).toMatchObject({ name: "client-drift", visibility: "private", record_count: 4, versions: [version] });

    for (const format of ["records", "sft"] as const) {
      const manifest = exactly(ManifestSchema, await api.manifest("client-drift", "latest", format));
      expect(manifest).toMatchObject({ dataset: "client-drift", version: 1, format, shard_count: 2 });
    }

    const found = exactly(SearchPageSchema, await api.search("client-drift", "topic 3", { length: 5 }));
    expect(found.rows.map((r) => r.row_idx)).toEqual([2]);
    const statistics = exactly(DatasetStatisticsSchema, await api.statistics("client-drift", "latest"));
    expect(statistics).toMatchObject({ version: 1, record_count: 4, statistics: { by_kind: { sft: 4 } } });
    exactly(DatasetStatisticsSchema, await api.statistics("client-drift"));
  });

  it("jobs: created, run to the end and read back", async () => {
    await api.ensureDataset("client-drift-jobs");
    await api.addRecords("client-drift-jobs", [5, 6, 7].map(sftRecord));
    let job = exactly(JobSchema, await api.createJob("client-drift-jobs", "build-quadruples", { target: "client-drift-quads" }));
    exactly(JobProgressSchema, job.progress);
    while (job.status === "pending" || job.status === "running") {
      const run = exactly(JobRunSchema, await api.runJob("client-drift-jobs", job.id, 5));
      job = run.job;
    }
    expect(job).toMatchObject({ status: "done", cursor: 3, total: 3 });
    const read = exactly(JobSchema, await api.job("client-drift-jobs", job.id));
    expect(exactly(JobProgressSchema, read.progress).processed).toBe(3);
  });

  it("judge verdicts (rule, LLM, strict and loose) and the taxonomy", async () => {
    const fake = fakeLlm();
    await fake.script([{ json: verdictJson([10, "warm throughout"]) }]);
    bindings = { LLM_BASE_URL: fake.baseUrl };
    const verdict = exactly(
      JudgeResponseSchema,
      await api.postJson<JudgeResponse>("/v1/judge", {
        instruction: "Write a short note to a friend.",
        response: unique("A gentle note about friendship"),
        constraints: [{ id: "punctuation:no_comma" }, { text: "Use a warm tone", dimension: "Tone and Style Constraint" }],
      }),
    );
    expect(verdict).toMatchObject({ mode: "strict", followed_all: true, results: [{ kind: "rule" }, { kind: "llm", score: 10 }] });

    const batch = await api.postJson<{ results: ({ index: number } & JudgeResponse)[] }>("/v1/judge/batch", {
      items: [{ response: "Hello there, friend.", constraints: [{ id: "punctuation:no_comma" }], mode: "both" }],
    });
    for (const { index: _index, ...result } of batch.results) expect(exactly(JudgeResponseSchema, result)).toMatchObject({ mode: "both" });

    const taxonomy = exactly(TaxonomySchema, await api.getJson<Taxonomy>("/v1/taxonomy"));
    expect(taxonomy.types.length).toBeGreaterThan(0);
  });

  it("a refusal is a problem document, which the client reads as an ApiError", async () => {
    const res = await call("/v1/datasets/no-such-dataset", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(res.status).toBe(404);
    exactly(ProblemSchema, await res.json());
    const error = await api.dataset("no-such-dataset").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, fields: [{ field: "path.name" }] });
  });
});
