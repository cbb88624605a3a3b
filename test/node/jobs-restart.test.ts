/**
 * The job queue across a crash of the dev server: `npm start`'s server (wrangler dev, local D1 and
 * the local queue) runs a TRACE construction job with the fake provider on 127.0.0.1; the server's
 * whole process group is killed mid-job and started again on the same state. The restarted Worker
 * re-enqueues the job from its D1 cursor (local queues are not durable), and the job ends with
 * exactly the output of an uninterrupted run: nothing lost, nothing doubled.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeLlm, type FakeLlm } from "../fake-llm/server.ts";
// @ts-expect-error -- plain ESM helper shared with the benchmarks
import { startServer } from "../../scripts/lib/server.mjs";

type Server = Awaited<ReturnType<typeof startServer>>;
type Job = {
  id: string;
  status: string;
  cursor: number;
  total: number;
  progress: { processed: number; produced: number; duplicates: number };
};

describe("a job on the queue survives a killed dev server", () => {
  let fake: FakeLlm;
  let server: Server | undefined;
  const state = mkdtempSync(join(tmpdir(), "iopo-restart-"));
  const start = () =>
    startServer({
      persistTo: state,
      env: {
        IOPO_DEV_VARS: JSON.stringify({
          LLM_PROVIDER: "openai",
          LLM_BASE_URL: `${fake.url}/s/restart/v1`,
          LLM_MODEL: "fake-writer-1",
          LLM_BACKOFF_MS: "10",
          LLM_TIMEOUT_MS: "5000",
          // a killed runner's lease must lapse quickly for the restarted one to take over
          JOB_LEASE_MS: "2000",
        }),
      },
    });
  beforeAll(async () => {
    fake = await startFakeLlm();
    // slow enough answers that the kill lands mid-job
    await fetch(`${fake.url}/s/restart/__script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fallback: { auto: {}, delay_ms: 150 } }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
    rmSync(state, { recursive: true, force: true });
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server!.base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${server!.adminToken}`, "content-type": "application/json", ...init.headers },
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const job = (source: string, id: string) => api<Job>(`/v1/datasets/${source}/jobs/${id}`);
  async function until(source: string, id: string, done: (job: Job) => boolean, timeoutMs: number): Promise<Job> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = await job(source, id);
      if (done(current) || Date.now() > deadline) return current;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  /** The target's records, their job ids blanked (the two jobs differ only there). */
  const contents = async (dataset: string) =>
    (await api<{ rows: { row: { meta: Record<string, unknown> } }[] }>(`/v1/datasets/${dataset}/rows?length=100`)).rows
      .map(({ row }) => JSON.stringify({ ...row, meta: { ...row.meta, job_id: null } }))
      .sort();

  it("kill mid-job, restart: exact output, nothing lost, nothing doubled", async () => {
    server = await start();
    await api("/v1/datasets", { method: "POST", body: JSON.stringify({ name: "restart-src" }) });
    const prompts = Array.from({ length: 12 }, (_, i) => ({
      kind: "instruction",
      instruction: { description: `Describe restart case ${i}.${i === 4 ? " [[fake:qc=trivial]]" : ""}`, constraints: [] },
    }));
    const res = await fetch(`${server.base}/v1/datasets/restart-src/records`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/x-ndjson" },
      body: prompts.map((p) => JSON.stringify(p)).join("\n"),
    });
    expect(res.status).toBe(200);
    const params = { seed: 3, batch_size: 2, min_constraints: 1, max_constraints: 2 };
    const created = await api<Job>("/v1/datasets/restart-src/jobs/build-trace", {
      method: "POST",
      body: JSON.stringify({ ...params, target: "restart-out" }),
    });
    const midway = await until("restart-src", created.id, (j) => j.cursor >= 4, 60_000);
    expect(midway.status).toBe("running");
    expect(midway.cursor).toBeLessThan(midway.total);

    // every process of the server, at once, as a crash would (wrangler and workerd run in a process
    // group of their own: scripts/start.mjs), waiting until they are gone
    await server.kill();
    server = await start();

    const done = await until("restart-src", created.id, (j) => j.status !== "running" && j.status !== "pending", 120_000);
    expect(done).toMatchObject({ status: "done", cursor: 12, progress: { processed: 12, produced: 11, duplicates: 0 } });
    const rejects = await api<{ total: number }>(`/v1/datasets/restart-src/jobs/${created.id}/rejects`);
    expect(rejects.total).toBe(1);

    // the same job uninterrupted (its answers now cached) builds exactly the same records
    const reference = await api<Job>("/v1/datasets/restart-src/jobs/build-trace", {
      method: "POST",
      body: JSON.stringify({ ...params, target: "restart-reference" }),
    });
    expect(await until("restart-src", reference.id, (j) => j.status === "done", 60_000)).toMatchObject({ progress: { produced: 11 } });
    const built = await contents("restart-out");
    expect(built).toHaveLength(11);
    expect(built).toEqual(await contents("restart-reference"));
  }, 300_000);
});
