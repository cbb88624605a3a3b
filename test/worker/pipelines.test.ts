/**
 * The LLM pipelines end to end in workerd with a real D1 and the fake OpenAI-protocol provider on
 * 127.0.0.1 (its `auto` answers, steered by markers in the prompts: see test/fake-llm/server.ts):
 * TRACE construction from 20 plain prompts, then IOPO quadruples from its output mixed with a
 * verifiable record, and a job interrupted mid-run and resumed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, expectProblem } from "./helpers.ts";
import { callWith, fakeLlm, type FakeLlmSession, postWith } from "./llm-helpers.ts";

type Usage = { calls: number; prompt_tokens: number; completion_tokens: number; total_tokens: number; cache_hits: number };
type Job = {
  id: string;
  kind: string;
  status: string;
  cursor: number;
  total: number;
  error: string | null;
  progress: {
    processed: number;
    produced: number;
    duplicates: number;
    by_op: Record<string, number>;
    skipped: Record<string, number>;
    usage: Usage;
  };
};
type Rejects = {
  by_reason: Record<string, number>;
  total: number;
  rejects: { position: number; stage: string; reason: string; detail: Record<string, unknown> }[];
};
type Row = {
  kind: string;
  instruction?: { description: string; constraints: { text: string; dimension?: string }[] };
  response?: string;
  verdict?: { followed_all: boolean };
  x2?: { constraints: { text: string }[] };
  meta: Record<string, unknown>;
};

const tag = () => crypto.randomUUID().slice(0, 8);

/** 20 plain prompts; some carry markers that steer the fake provider into a branch. */
const MARKERS: Record<number, string> = {
  3: "[[fake:qc=contradictory]]",
  5: "[[fake:qc=trivial]]",
  7: "[[fake:offtask]]", // TRACE's response fails the judge
  9: "[[fake:malformed]]", // every stage's first answer is not JSON: retried
  11: "[[fake:schema]]", // every stage's first answer has the wrong shape: retried
  13: "[[fake:weak]]", // IOPO's edit leaves y1 compliant
  15: "[[fake:nonsense]]", // IOPO's final check says no
  17: "[[fake:y2off]]", // IOPO's y2 fails x2
  19: "[[fake:wrongop]]", // IOPO's first edit is not the operation asked for: retried
};
const plainPrompts = (label: string, n = 20) =>
  Array.from({ length: n }, (_, i) => ({
    kind: "instruction",
    instruction: { description: `Write a short paragraph about topic ${i} of ${label}. ${MARKERS[i] ?? ""}`.trim(), constraints: [] },
  }));

async function seed(name: string, records: unknown[]) {
  expect(
    (
      await call("/v1/datasets", {
        method: "POST",
        headers: { ...ADMIN, "content-type": "application/json" },
        body: JSON.stringify({ name }),
      })
    ).status,
  ).toBe(201);
  const res = await call(`/v1/datasets/${name}/records`, {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/x-ndjson" },
    body: records.map((r) => JSON.stringify(r)).join("\n"),
  });
  expect(res.status).toBe(200);
}

async function drive(vars: Record<string, unknown>, dataset: string, job: Job, maxRuns = 20): Promise<Job> {
  for (let i = 0; i < maxRuns && (job.status === "pending" || job.status === "running"); i++) {
    const res = await postWith(vars, `/v1/datasets/${dataset}/jobs/${job.id}/run`, { max_batches: 5 }, ADMIN);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { job: Job; interrupted?: string };
    job = body.job;
    if (body.interrupted) return job;
  }
  return job;
}

async function rows(dataset: string): Promise<Row[]> {
  const res = await call(`/v1/datasets/${dataset}/rows?length=100`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rows: { row: Row }[] }).rows.map((r) => r.row);
}

async function rejects(dataset: string, job: Job): Promise<Rejects> {
  const res = await call(`/v1/datasets/${dataset}/jobs/${job.id}/rejects?limit=500`, { headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json()) as Rejects;
}

/** The fake provider's session, where the Worker has no job queue: these tests drive jobs with `POST .../run`. */
const vars = (fake: FakeLlmSession) => ({ LLM_BASE_URL: fake.baseUrl, JOB_QUEUE: undefined });

describe("TRACE construction and IOPO quadruples with an LLM", () => {
  it("builds a TRACE-style dataset from 20 plain prompts, then quadruples from it, with provenance, rejects and tokens", async () => {
    const t = tag();
    const source = `plain-${t}`;
    const traced = `traced-${t}`;
    const quads = `quads-${t}`;
    await seed(source, plainPrompts(t));
    const fake = fakeLlm();
    // a 429 with Retry-After and a timed-out answer first: both retried
    await fake.script(
      [
        { status: 429, headers: { "retry-after": "0" } },
        { auto: {}, delay_ms: 700 },
      ],
      { auto: {} },
    );

    const created = await postWith(
      vars(fake),
      `/v1/datasets/${source}/jobs/build-trace`,
      { target: traced, seed: 7, batch_size: 8, min_constraints: 2, max_constraints: 4 },
      ADMIN,
    );
    expect(created.status).toBe(201);
    const trace = await drive(vars(fake), source, (await created.json()) as Job);
    expect(trace.status).toBe("done");
    expect(trace.progress).toMatchObject({
      processed: 20,
      produced: 17,
      skipped: { "quality control: contradictory": 1, "quality control: trivial": 1, "the response scored below 10 on a constraint": 1 },
    });
    expect(trace.progress.usage.calls).toBeGreaterThan(20 * 5);
    // every request was a completion the job counted, but the 429 and the one that timed out
    const traceRequests = (await fake.requests()).requests.map((r) => JSON.stringify(r.body));
    expect(traceRequests.length).toBe(trace.progress.usage.calls + 2);
    // a malformed answer and an off-schema one were each asked again (and the record still built)
    for (const marker of ["[[fake:malformed]]", "[[fake:schema]]"]) {
      expect(traceRequests.filter((r) => r.includes("trace-expand-v1") && r.includes(marker))).toHaveLength(2);
      expect(traceRequests.filter((r) => r.includes("trace-qc-v1") && r.includes(marker))).toHaveLength(2);
    }
    expect(trace.progress.usage.prompt_tokens).toBeGreaterThan(0);
    expect(trace.progress.usage.total_tokens).toBe(trace.progress.usage.prompt_tokens + trace.progress.usage.completion_tokens);

    const built = await rows(traced);
    expect(built).toHaveLength(17);
    expect(built.some((r) => r.instruction!.description.includes("[[fake:schema]]"))).toBe(true);
    expect(built.some((r) => r.instruction!.description.includes("[[fake:malformed]]"))).toBe(true);
    for (const r of built) {
      expect(r.kind).toBe("sft");
      expect(r.verdict!.followed_all).toBe(true);
      expect(r.meta).toMatchObject({
        job_id: trace.id,
        model: "fake-judge-1",
        prompt_versions: { expand: "trace-expand-v1", qc: "trace-qc-v1", judge: "trace-judge-v2" },
        seed: 7,
      });
      const n = r.instruction!.constraints.length;
      expect(n).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThanOrEqual(4);
      // every constraint carries its taxonomy dimension, the ones the seed chose
      expect(r.instruction!.constraints.map((c) => c.dimension)).toEqual(r.meta.dimensions);
    }
    const traceRejects = await rejects(source, trace);
    expect(traceRejects.total).toBe(3);
    expect(traceRejects.rejects.map((r) => [r.position, r.stage])).toEqual([
      [3, "quality control"],
      [5, "quality control"],
      [7, "judge"],
    ]);

    // the built data as a new version
    const version = await postWith({}, `/v1/datasets/${traced}/versions`, { description: "TRACE-style build" }, ADMIN);
    expect(version.status).toBe(201);
    expect(await version.json()).toMatchObject({ version: 1, record_count: 17 });

    // IOPO over the built sft records, plus one verifiable record: one job, both paths
    await call(`/v1/datasets/${traced}/records`, {
      method: "POST",
      headers: { ...ADMIN, "content-type": "application/x-ndjson" },
      body: JSON.stringify({
        kind: "sft",
        instruction: { description: "Say hi.", constraints: [{ text: "No commas.", checker: { id: "punctuation:no_comma", kwargs: {} } }] },
        response: "hi there",
      }),
    });
    const before = (await fake.requests()).requests.length;
    const iopoCreated = await postWith(
      vars(fake),
      `/v1/datasets/${traced}/jobs/build-quadruples`,
      { target: quads, llm: true, seed: 3, batch_size: 6 },
      ADMIN,
    );
    expect(iopoCreated.status).toBe(201);
    const iopo = await drive(vars(fake), traced, (await iopoCreated.json()) as Job);
    expect(iopo.status).toBe("done");
    expect(iopo.progress).toMatchObject({
      processed: 18,
      produced: 14,
      skipped: {
        "y1 still satisfies x2": 1,
        "the final check found the quadruple not sensible": 1,
        "y2 does not satisfy x2": 1,
        "no response to the task satisfies x2": 1,
      },
    });
    expect(Object.values(iopo.progress.by_op).reduce((a, b) => a + b, 0)).toBe(14);
    expect(Object.keys(iopo.progress.by_op).length).toBeGreaterThan(1); // the seed spreads the operations
    expect(iopo.progress.usage.calls).toBe((await fake.requests()).requests.length - before);

    const quadRows = await rows(quads);
    expect(quadRows).toHaveLength(14);
    for (const q of quadRows) {
      expect(q.meta).toMatchObject({
        builder: "llm-v1",
        job_id: iopo.id,
        model: "fake-judge-1",
        prompt_versions: { edit: "iopo-edit-v1", answer: "iopo-answer-v1", check: "iopo-check-v1" },
      });
      expect((q as unknown as { verdicts: Record<string, { followed_all: boolean }> }).verdicts).toMatchObject({
        y1_x1: { followed_all: true },
        y2_x2: { followed_all: true },
        y1_x2: { followed_all: false },
      });
      expect(q.x2!.constraints.some((c) => c.text.includes("ZEBRA"))).toBe(true);
    }
    const edits = (await fake.requests()).requests.filter(
      (r) => JSON.stringify(r.body).includes("iopo-edit-v1") && JSON.stringify(r.body).includes("[[fake:wrongop]]"),
    );
    expect(edits).toHaveLength(2);
    const iopoRejects = await rejects(traced, iopo);
    expect(iopoRejects.rejects.find((r) => r.reason === "no response to the task satisfies x2")!.stage).toBe("rule");
    expect(iopoRejects.rejects.find((r) => r.reason === "y1 still satisfies x2")!.detail).toHaveProperty("x2");

    // re-running the finished work as a new job makes no model call: everything is cached
    const calls = (await fake.requests()).requests.length;
    const again = await postWith(
      vars(fake),
      `/v1/datasets/${source}/jobs/build-trace`,
      { target: `again-${t}`, seed: 7, batch_size: 20, min_constraints: 2, max_constraints: 4 },
      ADMIN,
    );
    const rerun = await drive(vars(fake), source, (await again.json()) as Job);
    expect(rerun.progress).toMatchObject({ processed: 20, produced: 17, usage: { calls: 0, prompt_tokens: 0 } });
    expect(rerun.progress.usage.cache_hits).toBeGreaterThan(17 * 5);
    expect((await fake.requests()).requests.length).toBe(calls);
  }, 60_000);

  it("resumes a job whose provider went away mid-batch: no duplicate records, no model call repeated, the same tokens", async () => {
    const t = tag();
    const run = async (fake: FakeLlmSession, failAfter?: number) => {
      const source = `resume-src-${t}-${fake.id.slice(0, 6)}`;
      await seed(
        source,
        plainPrompts(`resume ${t}`, 6).map((r, i) => ({
          ...r,
          instruction: { ...r.instruction, description: `Plain prompt ${i} of ${t}.` },
        })),
      );
      if (failAfter === undefined) await fake.script([], { auto: {} });
      else
        await fake.script(
          Array.from({ length: failAfter }, () => ({ auto: {} })),
          { status: 500 },
        );
      const created = await postWith(
        vars(fake),
        `/v1/datasets/${source}/jobs/build-trace`,
        { target: `${source}-out`, seed: 1, batch_size: 6, min_constraints: 1, max_constraints: 2 },
        ADMIN,
      );
      return { source, job: (await created.json()) as Job };
    };

    const whole = fakeLlm();
    const reference = await run(whole);
    const done = await drive(vars(whole), reference.source, reference.job);
    expect(done.status).toBe("done");
    const wholeCalls = (await whole.requests()).requests.length;

    const broken = fakeLlm();
    const resumed = await run(broken, 25);
    const cut = await drive(vars(broken), resumed.source, resumed.job);
    expect(cut.status).toBe("running");
    expect(cut.cursor).toBe(0);
    // the error names the record, the stage and its prompt version
    expect(cut.error).toMatch(/^interrupted: record at position \d \([0-9a-f]+\): \w[\w ]* \(trace-[a-z]+-v\d+\): .*HTTP 500/);
    expect(await rows(`${resumed.source}-out`)).toHaveLength(0);
    expect((await rejects(resumed.source, cut)).total).toBe(0);

    // the provider is back: the resumed job asks only what it had not got answers to
    await fake_reset(broken);
    const finished = await drive(vars(broken), resumed.source, cut);
    expect(finished.status).toBe("done");
    expect((await broken.requests()).requests.length).toBe(wholeCalls - 25);
    expect(finished.progress.usage.cache_hits).toBeGreaterThanOrEqual(25);
    expect({
      calls: finished.progress.usage.calls,
      prompt: finished.progress.usage.prompt_tokens,
      completion: finished.progress.usage.completion_tokens,
    }).toEqual({
      calls: done.progress.usage.calls,
      prompt: done.progress.usage.prompt_tokens,
      completion: done.progress.usage.completion_tokens,
    });
    const strip = (r: Row) => JSON.stringify({ ...r, meta: { ...r.meta, job_id: null, source_record: null } });
    const a = (await rows(`${reference.source}-out`)).map(strip);
    const b = (await rows(`${resumed.source}-out`)).map(strip);
    expect(b).toEqual(a);
    expect(finished.progress).toMatchObject({ processed: 6, produced: done.progress.produced, duplicates: 0 });
  }, 30_000);

  it("names bad parameters and needs a provider to run", async () => {
    const t = tag();
    await seed(`bad-${t}`, plainPrompts(t, 1));
    const bad = await postWith(
      {},
      `/v1/datasets/bad-${t}/jobs/build-trace`,
      { target: `bad-${t}-out`, min_constraints: 5, max_constraints: 2 },
      ADMIN,
    );
    expect((await expectProblem(bad, 422)).errors?.[0]?.field).toMatch(/max_constraints/);
    const same = await postWith({}, `/v1/datasets/bad-${t}/jobs/build-trace`, { target: `bad-${t}` }, ADMIN);
    expect((await expectProblem(same, 422)).errors?.[0]?.field).toBe("body.target");
    const created = (await (
      await postWith({ JOB_QUEUE: undefined }, `/v1/datasets/bad-${t}/jobs/build-trace`, { target: `bad-${t}-out` }, ADMIN)
    ).json()) as Job;
    const res = await callWith({ LLM_PROVIDER: "" }, `/v1/datasets/bad-${t}/jobs/${created.id}/run`, {
      method: "POST",
      headers: { ...ADMIN, "content-type": "application/json" },
      body: "{}",
    });
    const body = (await res.json()) as { job: Job; interrupted: string };
    expect(body.interrupted).toMatch(/LLM_PROVIDER/);
    expect(body.job.status).toBe("running");
    const unknownJob = await call(`/v1/datasets/bad-${t}/jobs/${crypto.randomUUID()}/rejects`, { headers: ADMIN });
    await expectProblem(unknownJob, 404);
  });
});

async function fake_reset(fake: FakeLlmSession) {
  const res = await fetch(`${env.FAKE_LLM_URL}/s/${fake.id}/__script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reset: true, queue: [], fallback: { auto: {} } }),
  });
  expect(res.status).toBe(200);
}
