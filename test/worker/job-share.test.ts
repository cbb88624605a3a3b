/**
 * The jobs' model-call bound (JOB_LLM_CONCURRENCY) shared by key, then by job, in workerd with a
 * real D1 and the Worker's own queue consumer: each job's calls go to its own fake-provider
 * session (test/fake-llm), whose peak of concurrent requests is what the job had in flight.
 * A file of its own: the D1 of a test file is its own, so no other test's jobs take a share here.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index.ts";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createKey } from "./helpers.ts";
import { fakeLlm, type FakeLlmSession, postWith } from "./llm-helpers.ts";

type Job = { id: string; status: string; cursor: number; total: number };

const tag = () => crypto.randomUUID().slice(0, 8);
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** Calls slow enough to overlap, and a timeout that a loaded machine does not reach. */
const CALL = { auto: {}, delay_ms: 80 } as const;
const RECORDS = 8;

/** A dataset of `records` simple instructions and a build-trace job taking them all in one step, owned by `headers`' key. */
async function traceJob(label: string, headers: Record<string, string>, records = RECORDS): Promise<{ dataset: string; job: Job }> {
  const dataset = `share-${label}`;
  expect((await postWith({}, "/v1/datasets", { name: dataset }, headers)).status).toBe(201);
  const res = await call(`/v1/datasets/${dataset}/records`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/x-ndjson" },
    body: Array.from({ length: records }, (_, i) =>
      JSON.stringify({ kind: "instruction", instruction: { description: `Write about ${label} number ${i}.`, constraints: [] } }),
    ).join("\n"),
  });
  expect(res.status).toBe(200);
  // created without a queue: the test delivers each job's one message itself
  const created = await postWith(
    { JOB_QUEUE: undefined },
    `/v1/datasets/${dataset}/jobs/build-trace`,
    { target: `${dataset}-out`, batch_size: records, min_constraints: 1, max_constraints: 1 },
    headers,
  );
  expect(created.status).toBe(201);
  return { dataset, job: (await created.json()) as Job };
}

/** One step of `job` by the Worker's queue consumer, its model calls going to `fake`. */
async function deliverStep(job: Job, fake: FakeLlmSession, vars: Record<string, string>) {
  const batch = createMessageBatch("iopo-jobs", [
    { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { job: job.id, cursor: 0 } },
  ]);
  const sent: unknown[] = [];
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue<unknown>;
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...vars, LLM_BASE_URL: fake.baseUrl, LLM_TIMEOUT_MS: "5000", JOB_QUEUE: queue });
  expect((await getQueueResult(batch, ctx)).retryMessages).toEqual([]);
}

const jobStatus = async (dataset: string, job: Job) =>
  ((await (await call(`/v1/datasets/${dataset}/jobs/${job.id}`)).json()) as Job).status;

describe("jobs share the model by key, then by job", () => {
  it("a lone LLM job has all of JOB_LLM_CONCURRENCY in flight; another key's rule job takes no share", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], CALL);
    const { dataset, job } = await traceJob(`lone-${t}`, ADMIN);
    const other = bearer((await createKey(["write"], `rules ${t}`)).key);
    const rules = await postWith(
      { JOB_QUEUE: undefined },
      `/v1/datasets/${dataset}/jobs/build-quadruples`,
      { target: `rules-${t}` },
      other,
    );
    expect(rules.status).toBe(201); // pending, as a job awaiting its first step is
    await deliverStep(job, fake, { JOB_LLM_CONCURRENCY: "4" });
    expect(await jobStatus(dataset, job)).toBe("done");
    expect((await fake.requests()).max_in_flight).toBe(4);
  });

  it("key B's one job has half the bound while key A's two jobs have a quarter each", async () => {
    const t = tag();
    const a = bearer((await createKey(["write"], `a ${t}`)).key);
    const b = bearer((await createKey(["write"], `b ${t}`)).key);
    const jobs = [await traceJob(`a1-${t}`, a), await traceJob(`a2-${t}`, a), await traceJob(`b-${t}`, b)];
    const fakes = jobs.map(() => fakeLlm());
    for (const fake of fakes) await fake.script([], CALL);
    // the three steps run at once, as the queue's consumers run them
    await Promise.all(jobs.map(({ job }, i) => deliverStep(job, fakes[i]!, { JOB_LLM_CONCURRENCY: "8" })));
    for (const { dataset, job } of jobs) expect(await jobStatus(dataset, job)).toBe("done");
    const peaks = await Promise.all(fakes.map(async (fake) => (await fake.requests()).max_in_flight));
    expect(peaks).toEqual([2, 2, 4]);
  });

  it("a step's share follows the jobs at each heartbeat: it shrinks when another key's job starts and grows back when it ends", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], CALL);
    const a = await traceJob(`grow-a-${t}`, ADMIN, 24);
    const b = bearer((await createKey(["write"], `b ${t}`)).key);
    // a heartbeat every 100 ms
    const stepping = deliverStep(a.job, fake, { JOB_LLM_CONCURRENCY: "4", JOB_LEASE_MS: "300" });
    const sent = async () => (await fake.requests()).requests;
    const until = async (done: () => Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await done()); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(async () => (await sent()).length >= 8);
    const other = await traceJob(`grow-b-${t}`, b); // pending: it awaits its first step
    await new Promise((r) => setTimeout(r, 400));
    const shrunk = (await sent()).length;
    await new Promise((r) => setTimeout(r, 400));
    const ending = (await sent()).length;
    expect((await postWith({}, `/v1/datasets/${other.dataset}/jobs/${other.job.id}/cancel`, {}, ADMIN)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    const grown = (await sent()).length;
    await stepping;
    expect(await jobStatus(a.dataset, a.job)).toBe("done");
    const inFlight = (await sent()).map((r) => r.in_flight);
    expect(Math.max(...inFlight.slice(0, 8))).toBe(4);
    // calls sent while the other key's job was pending: half the bound
    expect(ending - shrunk).toBeGreaterThan(2);
    expect(Math.max(...inFlight.slice(shrunk, ending))).toBe(2);
    expect(Math.max(...inFlight.slice(grown))).toBe(4);
  });
});
