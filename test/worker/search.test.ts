import { env } from "cloudflare:workers";
import { renderPrompt, type PagedRecord } from "@iopo/common";
import { describe, expect, it } from "vitest";
import { convertLine } from "../../src/datasets/importers.ts";
import { ADMIN, call, createKey, expectProblem, postJson } from "./helpers.ts";

// Search, the new row filters and statistics over TRACE's own (Chinese) evaluation lines.
const TRACE = env.TRACE_EVAL_SAMPLE.trim()
  .split("\n")
  .map((line) => convertLine("trace", JSON.parse(line)));

const sft = (description: string, constraint: { text: string; dimension: string }, response: string) => ({
  kind: "sft",
  instruction: { description, constraints: [constraint] },
  response,
});

async function makeDataset(name: string, records: unknown[], headers: Record<string, string> = ADMIN, visibility = "public") {
  expect((await postJson("/v1/datasets", { name, visibility }, headers)).status).toBe(201);
  const res = await postJson(`/v1/datasets/${name}/records`, records, headers);
  expect(res.status, await res.clone().text()).toBe(200);
}

type Page = { rows: PagedRecord[]; num_rows_total: number; matched_by?: string };
async function getPage(path: string, headers: Record<string, string> = {}): Promise<Page> {
  const res = await call(path, { headers });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
}
const traceIds = (page: Page) => page.rows.map((r) => (r.row.meta as { id: string }).id);

describe("search", () => {
  it("finds Chinese substrings with the trigram index, every term required, and pages", async () => {
    await makeDataset("trace-search", TRACE);
    // "老鹰乐队" occurs only in record 0's input
    const band = await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent("老鹰乐队")}`);
    expect(band).toMatchObject({ num_rows_total: 1, matched_by: "index" });
    expect(traceIds(band)).toEqual(["0"]);
    // a phrase from the middle of record 1's description, with another term it also holds
    const story = await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent("机器人之间 比喻或拟人")}`);
    expect(traceIds(story)).toEqual(["1"]);
    expect((await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent("机器人之间 老鹰乐队")}`)).num_rows_total).toBe(0);
    // FTS5's own syntax is searched for, never interpreted
    expect((await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent('"OR* NEAR(')}`)).num_rows_total).toBe(0);
  });

  it("matches terms shorter than a trigram by scanning, and pages either way", async () => {
    // two-character Chinese words are the commonest query and cannot use a trigram index
    const scan = await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent("描述")}&length=1`);
    expect(scan.matched_by).toBe("scan");
    const all = TRACE.filter((r) => JSON.stringify(r).includes("描述")).length;
    expect(all).toBeGreaterThan(1);
    expect(scan.num_rows_total).toBe(all);
    expect(scan.rows).toHaveLength(1);
    const next = await getPage(`/v1/datasets/trace-search/search?q=${encodeURIComponent("描述")}&length=1&offset=1`);
    expect(next.rows[0]!.row_idx).toBeGreaterThan(scan.rows[0]!.row_idx);
  });

  it("indexes records as they are appended", async () => {
    await makeDataset("appended", [
      sft("Write a haiku", { text: "Mention the moon", dimension: "Inclusion Constraint" }, "Silver lantern glows"),
    ]);
    expect((await getPage("/v1/datasets/appended/search?q=zebracorn")).num_rows_total).toBe(0);
    const res = await postJson(
      "/v1/datasets/appended/records",
      [sft("Describe an animal", { text: "Name it", dimension: "Inclusion Constraint" }, "The zebracorn grazes.")],
      ADMIN,
    );
    expect(res.status).toBe(200);
    const found = await getPage("/v1/datasets/appended/search?q=ZEBRACORN");
    expect(found.rows.map((r) => r.row_idx)).toEqual([1]);
  });

  it("searches a private dataset only for those who may read it, and refuses bad queries by name", async () => {
    const owner = await createKey(["write"]);
    const other = await createKey(["read"]);
    const auth = (k: { key: string }) => ({ authorization: `Bearer ${k.key}` });
    await makeDataset(
      "secret-notes",
      [sft("Keep it", { text: "Say plover", dimension: "Inclusion Constraint" }, "plover plover")],
      auth(owner),
      "private",
    );
    expect((await getPage("/v1/datasets/secret-notes/search?q=plover", auth(owner))).num_rows_total).toBe(1);
    await expectProblem(await call("/v1/datasets/secret-notes/search?q=plover", { headers: auth(other) }), 404);
    await expectProblem(await call("/v1/datasets/secret-notes/search?q=plover"), 404);
    const empty = await expectProblem(await call("/v1/datasets/trace-search/search?q=%20"), 422);
    expect(empty.errors?.[0]?.field).toBe("query.q");
    const deep = await expectProblem(await call("/v1/datasets/trace-search/search?q=abc&offset=10001"), 422);
    expect(deep.errors?.[0]?.field).toBe("query.offset");
  });
});

describe("row filters: constraint type and text lengths", () => {
  it("measures each record's rendered prompt and response in characters", async () => {
    const page = await getPage("/v1/datasets/trace-search/rows");
    const lengths = await env.DB.prepare(
      "SELECT position, instruction_chars, response_chars FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE d.name = 'trace-search' ORDER BY position",
    ).all<{ position: number; instruction_chars: number; response_chars: number }>();
    expect(lengths.results).toEqual(
      page.rows.map((r) => {
        const row = r.row as { instruction: Parameters<typeof renderPrompt>[0]; response?: string };
        return {
          position: r.row_idx,
          instruction_chars: [...renderPrompt(row.instruction)].length,
          response_chars: [...(row.response ?? "")].length,
        };
      }),
    );
  });

  it("filters by TRACE type (name or slug) and by prompt and response length ranges", async () => {
    const page = await getPage("/v1/datasets/trace-search/rows");
    const taxonomy = (await (await call("/v1/taxonomy")).json()) as { types: { name: string; dimensions: { name: string }[] }[] };
    const typeOf = new Map(taxonomy.types.flatMap((t) => t.dimensions.map((d) => [d.name, t.name])));
    const dims = (r: PagedRecord) =>
      (r.row as { instruction: { constraints: { dimension?: string }[] } }).instruction.constraints.map((c) => c.dimension);
    const style = page.rows.filter((r) => dims(r).some((d) => typeOf.get(d!) === "Style Constraint")).map((r) => r.row_idx);
    expect(style.length).toBeGreaterThan(0);
    expect(style.length).toBeLessThan(page.rows.length);
    expect((await getPage("/v1/datasets/trace-search/rows?type=style-constraint")).rows.map((r) => r.row_idx)).toEqual(style);
    expect((await getPage("/v1/datasets/trace-search/rows?type=Style%20Constraint")).num_rows_total).toBe(style.length);
    const unknown = await expectProblem(await call("/v1/datasets/trace-search/rows?type=colour"), 422);
    expect(unknown.errors?.[0]?.field).toBe("query.type");

    const prompts = page.rows.map((r) => ({
      idx: r.row_idx,
      n: [...renderPrompt((r.row as { instruction: Parameters<typeof renderPrompt>[0] }).instruction)].length,
    }));
    const sorted = prompts.map((p) => p.n).sort((a, b) => a - b);
    const [lo, hi] = [sorted[1]!, sorted[3]!];
    const want = prompts.filter((p) => p.n >= lo && p.n <= hi).map((p) => p.idx);
    const got = await getPage(`/v1/datasets/trace-search/rows?min_instruction_chars=${lo}&max_instruction_chars=${hi}`);
    expect(got.rows.map((r) => r.row_idx)).toEqual(want);
    expect(got.num_rows_total).toBe(want.length);
    expect((await getPage("/v1/datasets/appended/rows?min_response_chars=21")).rows.map((r) => r.row_idx)).toEqual([1]);
    const bad = await expectProblem(await call("/v1/datasets/trace-search/rows?max_response_chars=-1"), 422);
    expect(bad.errors?.[0]?.field).toBe("query.max_response_chars");
  });
});

type Statistics = {
  version: number | null;
  record_count: number;
  statistics: {
    by_kind: Record<string, number>;
    instruction_chars: { min: number; max: number; bins: { from: number; to: number; count: number }[] };
    response_chars: { min: number; max: number; bins: { from: number; to: number; count: number }[] };
  };
};

describe("statistics", () => {
  it("histograms prompt and response lengths, live and per frozen version, as the dataset route does", async () => {
    expect((await postJson("/v1/datasets/appended/versions", { shard_size: 10 }, ADMIN)).status).toBe(201);
    const third = [sft("A third", { text: "Be long", dimension: "Inclusion Constraint" }, "x".repeat(500))];
    expect((await postJson("/v1/datasets/appended/records", third, ADMIN)).status).toBe(200);
    const live = (await (await call("/v1/datasets/appended/statistics")).json()) as Statistics;
    const frozen = (await (await call("/v1/datasets/appended/versions/1/statistics")).json()) as Statistics;
    expect(live).toMatchObject({ version: null, record_count: 3, statistics: { by_kind: { sft: 3 } } });
    expect(frozen).toMatchObject({ version: 1, record_count: 2, statistics: { by_kind: { sft: 2 } } });
    expect(live.statistics.response_chars).toMatchObject({ min: "Silver lantern glows".length, max: 500 });
    expect(frozen.statistics.response_chars).toMatchObject({ min: "Silver lantern glows".length, max: "The zebracorn grazes.".length });
    for (const s of [live, frozen]) {
      for (const h of [s.statistics.instruction_chars, s.statistics.response_chars]) {
        expect(h.bins.reduce((sum, b) => sum + b.count, 0)).toBe(s.record_count);
        expect(h.bins[0]!.from).toBe(h.min);
        expect(h.bins.at(-1)!.to).toBeGreaterThanOrEqual(h.max);
      }
    }
    // the 500-character response sits alone in the last bin, the two short ones in the first
    expect(live.statistics.response_chars.bins.map((b) => b.count)).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const detail = (await (await call("/v1/datasets/appended")).json()) as { statistics: Statistics["statistics"] };
    expect(detail.statistics).toEqual(live.statistics);
    await expectProblem(await call("/v1/datasets/appended/versions/9/statistics"), 404);
  });
});
