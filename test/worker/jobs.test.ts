/**
 * Jobs as their owners' work, in workerd with a real D1, the real job queue, and the fake
 * OpenAI-protocol provider on 127.0.0.1 (test/fake-llm): who may run, control and read a job;
 * records a job cannot process become rejects; a step slower than the lease keeps it; a token
 * budget stops the job; bogus usage cannot poison the totals; the queue runs a job to exactly the
 * output a client-driven run makes, even when a message arrives twice.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index.ts";
import { describe, expect, it, vi } from "vitest";
import { ADMIN, call, createKey, expectProblem, postJson, textOf } from "./helpers.ts";
import { callWith, fakeLlm, type FakeLlmSession, postWith } from "./llm-helpers.ts";

type Job = {
  id: string;
  status: string;
  cursor: number;
  total: number;
  error: string | null;
  progress: {
    processed: number;
    produced: number;
    skipped: Record<string, number>;
    usage: { calls: number; prompt_tokens: number; completion_tokens: number; total_tokens: number };
  };
};
type Run = { job: Job; ran: number; busy: boolean; interrupted?: string };

const tag = () => crypto.randomUUID().slice(0, 8);
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** Where the Worker has no job queue: these jobs are driven with `POST .../run`. */
const noQueue = (fake?: FakeLlmSession) => ({ JOB_QUEUE: undefined, ...(fake ? { LLM_BASE_URL: fake.baseUrl } : {}) });

async function seed(name: string, records: unknown[]) {
  expect((await postJson("/v1/datasets", { name }, ADMIN)).status).toBe(201);
  const res = await call(`/v1/datasets/${name}/records`, {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/x-ndjson" },
    body: records.map((r) => JSON.stringify(r)).join("\n"),
  });
  expect(res.status).toBe(200);
}

/** Rule-path sft records: a few responses per task. */
const sftRecords = (label: string) =>
  ["owls", "tea", "rivers"].flatMap((topic) =>
    [
      `${topic} of ${label} are worth a look.`,
      `${topic} of ${label}, truly, are worth a long look today.`,
      `${topic.toUpperCase()} ${label}.`,
    ].map((response) => ({
      kind: "sft",
      instruction: {
        description: `Write about ${topic} (${label}).`,
        constraints: [
          { text: "At least 3 words.", checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 3 } } },
        ],
      },
      response,
    })),
  );

async function create(overrides: Record<string, unknown>, source: string, kind: string, body: unknown, headers = ADMIN): Promise<Job> {
  const res = await postWith(overrides, `/v1/datasets/${source}/jobs/${kind}`, body, headers);
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

async function drive(overrides: Record<string, unknown>, dataset: string, job: Job, headers = ADMIN): Promise<Job> {
  for (let i = 0; i < 20 && (job.status === "pending" || job.status === "running"); i++) {
    const res = await postWith(overrides, `/v1/datasets/${dataset}/jobs/${job.id}/run`, { max_batches: 50 }, headers);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Run;
    job = body.job;
    if (body.interrupted) break;
  }
  return job;
}

const rowIds = async (dataset: string, headers = ADMIN) => {
  const res = await call(`/v1/datasets/${dataset}/rows?length=100`, { headers });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rows: { id: string }[] }).rows.map((r) => r.id);
};

describe("jobs belong to their creator", () => {
  it("another key can neither run, control, read the rejects of, nor see a job on a private target; the job writes to its target by id", async () => {
    const t = tag();
    const a = bearer((await createKey(["write"], "owner")).key);
    const b = bearer((await createKey(["write"], "other")).key);
    await seed(`src-${t}`, sftRecords(t)); // public: both keys read it
    const job = await create(noQueue(), `src-${t}`, "build-quadruples", { target: `out-${t}`, visibility: "private" }, a);
    // B takes the private name of A's target in its own namespace, then goes for A's job
    expect((await postJson("/v1/datasets", { name: `out-${t}`, visibility: "private" }, b)).status).toBe(201);
    const path = `/v1/datasets/src-${t}/jobs/${job.id}`;
    await expectProblem(await postWith(noQueue(), `${path}/run`, {}, b), 404);
    for (const action of ["pause", "cancel", "resume"]) await expectProblem(await postJson(`${path}/${action}`, {}, b), 404);
    await expectProblem(await call(`${path}/rejects`, { headers: b }), 404);
    await expectProblem(await call(`${path}/rejects`), 404);
    await expectProblem(await call(path), 404);
    const listed = async (headers: Record<string, string>) =>
      ((await (await call(`/v1/datasets/src-${t}/jobs`, { headers })).json()) as { jobs: Job[] }).jobs.map((j) => j.id);
    expect(await listed({})).not.toContain(job.id);
    expect(await listed(b)).not.toContain(job.id);
    expect(await listed(a)).toContain(job.id);

    const done = await drive(noQueue(), `src-${t}`, job, a);
    expect(done.status).toBe("done");
    expect(done.progress.produced).toBeGreaterThan(0);
    expect(await rowIds(`out-${t}`, a)).toHaveLength(done.progress.produced);
    expect(await rowIds(`out-${t}`, b)).toHaveLength(0);
    // the job is reachable from its target too
    expect((await call(`/v1/datasets/out-${t}/jobs/${job.id}`, { headers: a })).status).toBe(200);
    expect((await call(`/v1/datasets/out-${t}/jobs`, { headers: a }).then((r) => r.json())) as { jobs: Job[] }).toMatchObject({
      jobs: [{ id: job.id }],
    });
    expect((await call(`/v1/datasets/out-${t}/jobs/${job.id}/rejects`, { headers: a })).status).toBe(200);

    // on a public target the job is visible to all, and still controlled by its owner alone
    const open = await create(noQueue(), `src-${t}`, "build-quadruples", { target: `pub-${t}`, visibility: "public" }, a);
    const openPath = `/v1/datasets/src-${t}/jobs/${open.id}`;
    expect((await call(openPath, { headers: b })).status).toBe(200);
    expect(await listed({})).toContain(open.id);
    await expectProblem(await postWith(noQueue(), `${openPath}/run`, {}, b), 403);
    await expectProblem(await postJson(`${openPath}/cancel`, {}, b), 403);
    await expectProblem(await call(`${openPath}/rejects`, { headers: b }), 403);
    expect((await (await postJson(`${openPath}/cancel`, {}, a)).json()) as Job).toMatchObject({ status: "cancelled" });
    await expectProblem(await postJson(`${openPath}/resume`, {}, a), 409);
  });
});

describe("jobs that cannot wedge or overspend", () => {
  it("a record the job cannot process (an edit past 64 constraints) is a reject with its reason; the job goes on", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { auto: {} });
    const many = Array.from({ length: 64 }, (_, i) => ({ text: `Constraint ${i} of ${t}.` }));
    await seed(`wide-${t}`, [
      { kind: "sft", instruction: { description: `Write about wide ${t}.`, constraints: many }, response: "A wide answer." },
      { kind: "sft", instruction: { description: `Write about narrow ${t}.`, constraints: [many[0]] }, response: "A narrow answer." },
    ]);
    const job = await create(noQueue(fake), `wide-${t}`, "build-quadruples", { target: `wide-out-${t}`, llm: true, ops: ["add"] });
    const done = await drive(noQueue(fake), `wide-${t}`, job);
    expect(done).toMatchObject({ status: "done", cursor: 2, progress: { processed: 2, produced: 1 } });
    const rejects = (await (await call(`/v1/datasets/wide-${t}/jobs/${job.id}/rejects`, { headers: ADMIN })).json()) as {
      rejects: { position: number; stage: string; reason: string; detail: { error: string } }[];
    };
    expect(rejects.rejects).toHaveLength(1);
    expect(rejects.rejects[0]).toMatchObject({ position: 0, stage: "model answer" });
    expect(rejects.rejects[0]!.detail.error).toMatch(/constraints/);
  });

  it("a rule-built record past the 64-constraint limit is a reject (stage validate); the job goes on", async () => {
    const t = tag();
    const words = Array.from({ length: 64 }, (_, i) => `word${i}x${t.slice(0, 4)}`);
    const instruction = {
      description: `List the words of ${t}.`,
      constraints: words.map((w) => ({ text: `Mention ${w}.`, checker: { id: "keywords:existence", kwargs: { keywords: [w] } } })),
    };
    await seed(`rule64-${t}`, [
      { kind: "sft", instruction, response: words.join(", ") },
      { kind: "sft", instruction, response: words.join(" ") },
      { kind: "sft", instruction, response: `${words.join(" ")}. P.S. done` },
      ...sftRecords(t),
    ]);
    const job = await create(noQueue(), `rule64-${t}`, "build-quadruples", { target: `rule64-out-${t}`, ops: ["add"] });
    const done = await drive(noQueue(), `rule64-${t}`, job);
    expect(done).toMatchObject({ status: "done", cursor: done.total });
    const rejects = (await (
      await call(`/v1/datasets/rule64-${t}/jobs/${job.id}/rejects?reason=${encodeURIComponent("the built record is not a valid record")}`, {
        headers: ADMIN,
      })
    ).json()) as {
      rejects: { position: number; stage: string; detail: { errors: string[] } }[];
    };
    expect(rejects.rejects.length).toBeGreaterThan(0);
    expect(rejects.rejects[0]).toMatchObject({ stage: "validate" });
    expect(rejects.rejects[0]!.detail.errors.join(" ")).toMatch(/x2\.constraints/);
    expect(done.progress.produced).toBeGreaterThan(0);
  });

  it("a step slower than the lease keeps it by heartbeat: a second runner finds the job busy and no call is made twice", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { auto: {}, delay_ms: 250 });
    await seed(`slow-${t}`, [{ kind: "instruction", instruction: { description: `Say something slow about ${t}.`, constraints: [] } }]);
    const vars = { ...noQueue(fake), JOB_LEASE_MS: "200", LLM_TIMEOUT_MS: "3000" };
    const job = await create(vars, `slow-${t}`, "build-trace", { target: `slow-out-${t}`, min_constraints: 1, max_constraints: 1 });
    const first = postWith(vars, `/v1/datasets/slow-${t}/jobs/${job.id}/run`, { max_batches: 1 }, ADMIN);
    await new Promise((r) => setTimeout(r, 600)); // three leases' length into the step
    const second = (await (await postWith(vars, `/v1/datasets/slow-${t}/jobs/${job.id}/run`, { max_batches: 1 }, ADMIN)).json()) as Run;
    expect(second).toMatchObject({ busy: true, ran: 0 });
    const done = ((await (await first).json()) as Run).job;
    expect(done).toMatchObject({ status: "done", progress: { processed: 1, produced: 1 } });
    expect((await fake.requests()).requests).toHaveLength(done.progress.usage.calls);
  });

  it("a token budget pauses the job once spent, sending no further call; resume with a larger one finishes it", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { auto: {} });
    await seed(
      `budget-${t}`,
      Array.from({ length: 4 }, (_, i) => ({
        kind: "instruction",
        instruction: { description: `Budget prompt ${i} of ${t}.`, constraints: [] },
      })),
    );
    const job = await create(noQueue(fake), `budget-${t}`, "build-trace", { target: `budget-out-${t}`, token_budget: 50, batch_size: 4 });
    const paused = await drive({ ...noQueue(fake), JOB_LLM_CONCURRENCY: "2" }, `budget-${t}`, job);
    expect(paused).toMatchObject({ status: "paused", cursor: 0 });
    expect(paused.error).toMatch(/^token budget reached: \d+ of 50 tokens spent/);
    // the first answer spent the budget: only the calls already in flight (at most the job's share
    // of JOB_LLM_CONCURRENCY 2) were sent
    expect((await fake.requests()).requests.length).toBeLessThanOrEqual(2);
    expect(paused.progress.usage.total_tokens).toBeGreaterThanOrEqual(50);

    const path = `/v1/datasets/budget-${t}/jobs/${job.id}`;
    const resumed = (await (await postWith(noQueue(), `${path}/resume`, { token_budget: 1_000_000 }, ADMIN)).json()) as Job & {
      params: { token_budget: number };
    };
    expect(resumed).toMatchObject({ status: "running", error: null, params: { token_budget: 1_000_000 } });
    const done = await drive(noQueue(fake), `budget-${t}`, resumed);
    expect(done).toMatchObject({ status: "done", progress: { processed: 4, produced: 4 } });
    await expectProblem(await postJson(`${path}/pause`, {}, ADMIN), 409);
    await expectProblem(
      await postWith(noQueue(), `/v1/datasets/budget-${t}/jobs/build-trace`, { target: `x-${t}`, token_budget: 0 }, ADMIN),
      422,
    );
  });

  it("a key's job spends its owner's model budget: calls are counted against the key, and a spent budget pauses the job", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { auto: {} });
    const owner = await createKey(["read", "write"], `owner ${t}`);
    const budget = await callWith({}, `/v1/keys/${owner.id}/budget`, {
      method: "PUT",
      headers: { ...ADMIN, "content-type": "application/json" },
      body: JSON.stringify({ calls_per_day: 3 }),
    });
    expect(budget.status).toBe(200);
    await seed(
      `owned-${t}`,
      Array.from({ length: 4 }, (_, i) => ({
        kind: "instruction",
        instruction: { description: `Owned prompt ${i} of ${t}.`, constraints: [] },
      })),
    );
    const job = await create(noQueue(fake), `owned-${t}`, "build-trace", { target: `owned-out-${t}`, batch_size: 4 }, bearer(owner.key));
    // driven by the admin, charged to the owner: its day budget of 3 calls is all the model sees
    const paused = await drive(noQueue(fake), `owned-${t}`, job);
    expect(paused).toMatchObject({ status: "paused", cursor: 0 });
    expect(paused.error).toMatch(/^the owner's model budget is spent: /);
    expect((await fake.requests()).requests.length).toBe(3);
    const me = await callWith({}, "/v1/keys/me", { headers: bearer(owner.key) });
    const spend = ((await me.json()) as { spend: { subject: string; remaining: Record<string, number> }[] }).spend;
    expect(spend).toEqual([
      expect.objectContaining({ subject: `key:${owner.id}`, remaining: expect.objectContaining({ calls_per_day: 0 }) }),
    ]);
  });

  it("usage a provider reports as 1e308 or negative is summed as a capped non-negative integer", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([{ auto: {}, usage: { prompt_tokens: 1e308, completion_tokens: -5 } }], { auto: {} });
    await seed(`usage-${t}`, [{ kind: "instruction", instruction: { description: `Usage prompt of ${t}.`, constraints: [] } }]);
    const job = await create(noQueue(fake), `usage-${t}`, "build-trace", { target: `usage-out-${t}` });
    const { usage } = (await drive(noQueue(fake), `usage-${t}`, job)).progress;
    expect(usage.calls).toBeGreaterThan(1);
    for (const n of [usage.prompt_tokens, usage.completion_tokens]) {
      expect(Number.isSafeInteger(n)).toBe(true);
      expect(n).toBeGreaterThan(0);
    }
    expect(usage.prompt_tokens).toBeLessThanOrEqual(10_000_000 * usage.calls);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });
});

describe("jobs on the queue", () => {
  it("runs a job with no client present to exactly the output a client-driven run makes, a duplicate message changing nothing", async () => {
    const t = tag();
    await seed(`q-${t}`, sftRecords(t));
    const params = { seed: 5, batch_size: 2 };
    const manual = await drive(
      noQueue(),
      `q-${t}`,
      await create(noQueue(), `q-${t}`, "build-quadruples", { ...params, target: `by-hand-${t}` }),
    );
    expect(manual.status).toBe("done");

    const queued = await create({}, `q-${t}`, "build-quadruples", { ...params, target: `by-queue-${t}` });
    await env.JOB_QUEUE!.send({ job: queued.id, cursor: 0 }); // delivered at least once: here twice
    // watched live: one event per change, ending when the job is done
    const stream = await call(`/v1/datasets/q-${t}/jobs/${queued.id}/events?timeout_s=20`);
    expect(stream.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const events = (await textOf(stream))
      .trim()
      .split("\n")
      .map(
        (line) => JSON.parse(line) as { status: string; cursor: number; produced: number; step: { processed: number; produced: number } },
      );
    expect(events.at(-1)).toMatchObject({ status: "done", cursor: manual.total, produced: manual.progress.produced });
    expect(events.reduce((n, e) => n + e.step.processed, 0)).toBe(manual.total);
    expect(events.reduce((n, e) => n + e.step.produced, 0)).toBe(manual.progress.produced);
    const job = (await (await call(`/v1/datasets/q-${t}/jobs/${queued.id}`)).json()) as Job;
    expect(job).toMatchObject({ status: "done", cursor: manual.total, progress: manual.progress, runner: "queue" });
    expect((await rowIds(`by-queue-${t}`)).sort()).toEqual((await rowIds(`by-hand-${t}`)).sort());
    // a finished job cannot be paused
    await expectProblem(await callWith({}, `/v1/datasets/q-${t}/jobs/${queued.id}/pause`, { method: "POST", headers: ADMIN }), 409);
  }, 30_000);

  it("a model 429 is a queue retry after its Retry-After; a step that keeps failing fails its job from the dead-letter queue", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { status: 429, headers: { "retry-after": "30" } });
    await seed(`busy-${t}`, [{ kind: "instruction", instruction: { description: `Busy provider ${t}.`, constraints: [] } }]);
    const job = await create(noQueue(), `busy-${t}`, "build-trace", { target: `busy-out-${t}` });
    const deliver = async (queue: string, overrides: Record<string, unknown> = {}) => {
      const batch = createMessageBatch(queue, [{ id: `m-${queue}`, timestamp: new Date(), attempts: 1, body: { job: job.id, cursor: 0 } }]);
      // the test runtime's message records a retry but not its options: watch what is asked
      const retry = vi.spyOn(batch.messages[0]!, "retry");
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...env, ...overrides });
      return { result: await getQueueResult(batch, ctx), retry };
    };
    const first = await deliver("iopo-jobs", { LLM_BASE_URL: fake.baseUrl });
    expect(first.result.retryMessages).toEqual([{ msgId: "m-iopo-jobs" }]);
    expect(first.retry).toHaveBeenCalledWith({ delaySeconds: 30 });
    const interrupted = (await (await call(`/v1/datasets/busy-${t}/jobs/${job.id}`)).json()) as Job;
    expect(interrupted).toMatchObject({ status: "running", cursor: 0 });
    expect(interrupted.error).toMatch(/^interrupted: record at position 0 .*expand \(trace-expand-v1\).*429/);

    expect((await deliver("iopo-jobs-dlq")).result.explicitAcks).toEqual(["m-iopo-jobs-dlq"]);
    const failed = (await (await call(`/v1/datasets/busy-${t}/jobs/${job.id}`)).json()) as Job;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^the step at source position 0 failed 9 times; last: record at position 0 .*429/);
    // a failed job can be resumed at its cursor
    expect(((await (await postWith(noQueue(), `/v1/datasets/busy-${t}/jobs/${job.id}/resume`, {}, ADMIN)).json()) as Job).status).toBe(
      "running",
    );
  });
});

describe("jobs take turns on the queue, watched record by record", () => {
  /**
   * The job queue as a FIFO of messages, one consumer at a time: the Worker's own consumer takes
   * each message, and the next-step messages it sends land at the back (Cloudflare's queue
   * delivers in order; the local broker's timing is not what is under test).
   */
  function fifoQueue() {
    const pending: unknown[] = [];
    const binding = { send: async (body: unknown) => void pending.push(body) } as unknown as Queue<unknown>;
    const deliver = async (overrides: Record<string, unknown>) => {
      const body = pending.shift();
      const batch = createMessageBatch("iopo-jobs", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...env, ...overrides, JOB_QUEUE: binding });
      if ((await getQueueResult(batch, ctx)).retryMessages.length > 0) pending.push(body);
    };
    return { binding, pending, deliver };
  }

  it("the cron sweeper re-enqueues a job that stalled (no lease, nothing committed for 10 minutes), and no other", async () => {
    const t = tag();
    await seed(`sweep-${t}`, sftRecords(t));
    const stalled = await create(noQueue(), `sweep-${t}`, "build-quadruples", { target: `sweep-a-${t}` });
    const waiting = await create(noQueue(), `sweep-${t}`, "build-quadruples", { target: `sweep-b-${t}` });
    const leased = await create(noQueue(), `sweep-${t}`, "build-quadruples", { target: `sweep-c-${t}` });
    const longAgo = new Date(Date.now() - 11 * 60_000).toISOString();
    await env.DB.prepare("UPDATE jobs SET updated_at = ?1 WHERE id IN (?2, ?3)").bind(longAgo, stalled.id, leased.id).run();
    await env.DB.prepare("UPDATE jobs SET lease_until = ?1 WHERE id = ?2")
      .bind(Date.now() + 60_000, leased.id)
      .run();
    const queue = fifoQueue();
    await worker.scheduled(createScheduledController(), { ...env, JOB_QUEUE: queue.binding });
    const sent = (queue.pending as { job: string; cursor: number }[]).filter((m) => [stalled.id, waiting.id, leased.id].includes(m.job));
    expect(sent).toEqual([{ job: stalled.id, cursor: 0 }]);
  });

  it("another key's small LLM job finishes while a large one has most of its records to go; the stream names every record", async () => {
    const t = tag();
    const fake = fakeLlm();
    await fake.script([], { auto: {} });
    const queue = fifoQueue();
    const vars = { LLM_BASE_URL: fake.baseUrl, JOB_QUEUE: queue.binding };
    const prompts = (label: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        kind: "instruction",
        instruction: { description: `Write about ${label} ${i} of ${t}.`, constraints: [] },
      }));
    await seed(`large-${t}`, prompts("rivers", 12));
    await seed(`small-${t}`, prompts("owls", 2));
    const big = bearer((await createKey(["write"], "big")).key);
    const small = bearer((await createKey(["write"], "small")).key);
    const large = await create(vars, `large-${t}`, "build-trace", { target: `large-out-${t}`, batch_size: 2 }, big);
    const little = await create(vars, `small-${t}`, "build-trace", { target: `small-out-${t}`, batch_size: 2 }, small);
    const stream = await callWith(vars, `/v1/datasets/large-${t}/jobs/${large.id}/events?timeout_s=60`);

    const status = async (dataset: string, job: Job) => (await (await call(`/v1/datasets/${dataset}/jobs/${job.id}`)).json()) as Job;
    let largeCursorWhenSmallDone: number | null = null;
    for (let i = 0; i < 50 && queue.pending.length > 0; i++) {
      await queue.deliver({ LLM_BASE_URL: fake.baseUrl });
      if (largeCursorWhenSmallDone === null && (await status(`small-${t}`, little)).status === "done")
        largeCursorWhenSmallDone = (await status(`large-${t}`, large)).cursor;
    }
    const finished = await status(`large-${t}`, large);
    expect(finished).toMatchObject({ status: "done", cursor: 12 });
    // the small job took its turn after one step of the large one, not after all six
    expect(largeCursorWhenSmallDone).toBe(2);

    // every source record of the large job, once, in order, with what it became and its tokens
    const events = (await textOf(stream))
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as {
            status: string;
            records: { position: number; id: string; outcome: string; stage: string; tokens: number }[];
          },
      );
    const records = events.flatMap((e) => e.records);
    expect(records.map((r) => r.position)).toEqual([...Array(12).keys()]);
    expect(new Set(records.map((r) => r.id)).size).toBe(12);
    const produced = records.filter((r) => r.outcome === "produced");
    expect(produced.length).toBe(finished.progress.produced);
    expect(records.filter((r) => r.outcome === "rejected").length).toBe(
      Object.values(finished.progress.skipped).reduce((a, b) => a + b, 0),
    );
    for (const r of produced) expect(r.stage).toBe("trace");
    expect(records.every((r) => r.tokens > 0)).toBe(true);
    expect(records.reduce((n, r) => n + r.tokens, 0)).toBe(finished.progress.usage.total_tokens);
    expect(events.at(-1)!.status).toBe("done");
  }, 60_000);
});
