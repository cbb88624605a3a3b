import { env } from "cloudflare:workers";
import { z } from "@hono/zod-openapi";
import type { Instruction } from "@iopo/common";
import { IopoRecordSchema, JobRunSchema, JobSchema, JudgeResponseSchema, RowsPageSchema } from "@iopo/common/api";
import { describe, expect, it } from "vitest";
import { responsesFor } from "./fixtures/responses.ts";
import { ADMIN, call, expectProblem, postJson } from "./helpers.ts";
import { postWith } from "./llm-helpers.ts";

/** A response body parsed with its wire schema: a renamed or missing field fails here, not as a quiet undefined. */
const parsed = async <S extends z.ZodType>(schema: S, res: Response): Promise<z.infer<S>> => schema.parse(await res.json());

const topics = ["owls", "tea", "rivers", "chess", "glaciers", "bridges"];

function sftRecords() {
  const records = [];
  for (const topic of topics) {
    const instruction: Instruction = {
      description: `Write a few sentences about ${topic}.`,
      constraints: [
        {
          text: "Answer with at least 5 words.",
          checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 5 } },
        },
      ],
    };
    for (const response of responsesFor(topic)) records.push({ kind: "sft", instruction, response });
  }
  // skipped: a free-text constraint, and a response that fails its own instruction
  records.push({
    kind: "sft",
    instruction: { description: "Write a poem.", constraints: [{ text: "Sound melancholic." }] },
    response: "Rain.",
  });
  records.push({
    kind: "sft",
    instruction: {
      description: "Write a poem.",
      constraints: [{ text: "No commas.", checker: { id: "punctuation:no_comma", kwargs: {} } }],
    },
    response: "Rain, rain.",
  });
  return records;
}

async function seedSource(name: string) {
  expect((await postJson("/v1/datasets", { name }, ADMIN)).status).toBe(201);
  const res = await call(`/v1/datasets/${name}/records`, {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/x-ndjson" },
    body: sftRecords()
      .map((r) => JSON.stringify(r))
      .join("\n"),
  });
  expect(await res.json()).toMatchObject({ inserted: 44 });
}

/** A job these tests drive with `POST .../run`: created where the Worker has no job queue. */
async function startJob(source: string, body: Record<string, unknown>) {
  const res = await postWith({ JOB_QUEUE: undefined }, `/v1/datasets/${source}/jobs/build-quadruples`, body, ADMIN);
  expect(res.status).toBe(201);
  return parsed(JobSchema, res);
}

async function runToEnd(source: string, id: string, maxBatches: number) {
  let job: z.infer<typeof JobSchema>;
  let runs = 0;
  do {
    // without a queue, as the job was created: a run that moved the cursor would otherwise hand the
    // job to the queue, which could take steps between these runs
    const res = await postWith({ JOB_QUEUE: undefined }, `/v1/datasets/${source}/jobs/${id}/run`, { max_batches: maxBatches }, ADMIN);
    expect(res.status).toBe(200);
    job = (await parsed(JobRunSchema, res)).job;
    runs++;
  } while (job.status !== "done" && runs < 100);
  return { job, runs };
}

/** The target's rows, each a valid iopo record (the record schema of the API). */
async function quads(name: string) {
  const page = await parsed(RowsPageSchema, await call(`/v1/datasets/${name}/rows?length=100`));
  return page.rows.map(({ id, row }) => ({ id, row: IopoRecordSchema.parse(row) }));
}

const judge = async (response: string, instruction: Instruction) => {
  const res = await postJson("/v1/judge", { response, constraints: instruction.constraints.map((c) => c.checker) });
  return (await parsed(JudgeResponseSchema, res)).followed_all;
};

describe("quadruple builder job", () => {
  it("builds quadruples the judge confirms, by all three operations, with evidence stored", async () => {
    await seedSource("sft-src");
    const job = await startJob("sft-src", { target: "quads", batch_size: 7, seed: 1 });
    expect(job).toMatchObject({ status: "pending", total: 44 });
    const { job: done } = await runToEnd("sft-src", job.id, 100);
    expect(done.status).toBe("done");
    expect(done.progress.processed).toBe(44);
    expect(done.progress.skipped["x1 has free-text constraints (needs the LLM judge)"]).toBe(1);
    expect(done.progress.skipped["y1 does not satisfy x1"]).toBe(1);

    const built = await quads("quads");
    expect(built.length).toBe(done.progress.produced);
    expect(built.length).toBeGreaterThanOrEqual(30);
    const ops = new Set(built.map((q) => q.row.meta?.op));
    expect([...ops].sort()).toEqual(["add", "delete", "revise"]);
    for (const { row } of built) {
      expect(row.x2).not.toEqual(row.x1);
      expect(row.y2).not.toBe(row.y1);
      expect(row.x2.description).toBe(row.x1.description);
      // the judge, called independently, confirms every quadruple
      expect(await judge(row.y1, row.x1)).toBe(true);
      expect(await judge(row.y2, row.x2)).toBe(true);
      expect(await judge(row.y1, row.x2)).toBe(false);
      expect(row.verdicts?.y1_x1?.followed_all).toBe(true);
      expect(row.verdicts?.y2_x2?.followed_all).toBe(true);
      expect(row.verdicts?.y1_x2?.followed_all).toBe(false);
      for (const c of row.x2.constraints) expect(c.text.length).toBeGreaterThan(5);
    }
    const listed = await parsed(z.object({ jobs: z.array(JobSchema) }), await call("/v1/datasets/sft-src/jobs"));
    expect(listed.jobs.map((j) => j.id)).toContain(job.id);
  });

  it("resumes batch by batch to exactly the output of one uninterrupted run, never duplicating", async () => {
    await seedSource("resume-src");
    const oneShot = await startJob("resume-src", { target: "resume-a", batch_size: 5, seed: 7 });
    await runToEnd("resume-src", oneShot.id, 100);
    const stepwise = await startJob("resume-src", { target: "resume-b", batch_size: 5, seed: 7 });
    const { runs } = await runToEnd("resume-src", stepwise.id, 1);
    expect(runs).toBeGreaterThanOrEqual(9);
    const a = (await quads("resume-a")).map((q) => q.id).sort();
    const b = (await quads("resume-b")).map((q) => q.id).sort();
    expect(b).toEqual(a);

    // a second job with the same seed into the same target adds nothing
    const again = await startJob("resume-src", { target: "resume-a", batch_size: 50, seed: 7 });
    const { job } = await runToEnd("resume-src", again.id, 100);
    expect(job.progress.produced).toBe(0);
    expect(job.progress.duplicates).toBe(a.length);
    expect((await quads("resume-a")).length).toBe(a.length);

    // a finished job stays finished
    const rerun = await postJson(`/v1/datasets/resume-src/jobs/${oneShot.id}/run`, {}, ADMIN);
    expect((await parsed(JobRunSchema, rerun)).ran).toBe(0);
  });

  it("lets only one runner step a job at a time", async () => {
    await seedSource("lease-src");
    const job = await startJob("lease-src", { target: "lease-out", batch_size: 5 });
    await env.DB.prepare("UPDATE jobs SET lease_until = ?, status = 'running' WHERE id = ?")
      .bind(Date.now() + 60_000, job.id)
      .run();
    const res = await parsed(JobRunSchema, await postJson(`/v1/datasets/lease-src/jobs/${job.id}/run`, {}, ADMIN));
    expect(res).toMatchObject({ busy: true, ran: 0 });
    expect(res.job.cursor).toBe(0);
    // an expired lease (a runner that died) is taken over
    await env.DB.prepare("UPDATE jobs SET lease_until = ? WHERE id = ?")
      .bind(Date.now() - 1, job.id)
      .run();
    const resumed = await parsed(JobRunSchema, await postJson(`/v1/datasets/lease-src/jobs/${job.id}/run`, { max_batches: 1 }, ADMIN));
    expect(resumed.ran).toBe(1);
    expect(resumed.job.cursor).toBe(5);
  });

  it("validates job requests", async () => {
    await seedSource("val-src");
    await expectProblem(await postJson("/v1/datasets/val-src/jobs/build-quadruples", { target: "val-src" }, ADMIN), 422);
    await expectProblem(await postJson("/v1/datasets/val-src/jobs/build-quadruples", { target: "x", ops: ["swap"] }, ADMIN), 422);
    await expectProblem(await postJson("/v1/datasets/val-src/jobs/build-quadruples", { target: "x" }), 401);
    await expectProblem(await call("/v1/datasets/val-src/jobs/00000000-0000-4000-8000-000000000000"), 404);
  });
});
