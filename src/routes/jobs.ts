import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validateConstraintChecker } from "../datasets/checkers.ts";
import { TokenBudget } from "../datasets/job-kind.ts";
import { JOB_KINDS, type JobKindName } from "../datasets/job-registry.ts";
import { enqueueJob, stepConcurrency } from "../datasets/job-queue.ts";
import {
  controlJob,
  createJob,
  DEFAULT_LEASE_MS,
  findJob,
  jobById,
  listJobs,
  prepareTarget,
  presentJob,
  presentRejects,
  runJobSteps,
  type BuildProgress,
  type JobAction,
  type JobContext,
  type JobWithUsage,
} from "../datasets/jobs.ts";
import { findDataset } from "../datasets/store/access.ts";
import { loadTaxonomyIndex } from "../datasets/taxonomy.ts";
import type { AppEnv, Bindings } from "../env.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { withUsage } from "../pipelines/llm.ts";
import type { JobEvent } from "@iopo/common";
import { JobEventSchema, JobRunSchema, JobSchema, RunJobBody } from "@iopo/common/api";
import { nameParam } from "./dataset-schemas.ts";
import { llmJudgeFor } from "../judge/llm/from-env.ts";

/**
 * Jobs over a dataset: start one (a kind of job-registry.ts), list, read, control (pause, resume,
 * cancel), its rejects, and `run` for environments without the job queue. A job is reached from
 * its source or its target dataset; only its owner (or an admin) controls it or reads its rejects.
 */

const security = [{ bearer: [] }];

/** What a runner needs, from the Worker's bindings: the job owner's judge is built here, in one place. */
export async function jobContext(env: Bindings): Promise<JobContext> {
  const taxonomy = await loadTaxonomyIndex(env.DB);
  const leaseMs = Number(env.JOB_LEASE_MS);
  return {
    validateChecker: validateConstraintChecker,
    dimensionNames: taxonomy.dimensionNames,
    // the job's owner is whom its model calls are made for and charged to (its key's spend budget;
    // a job the admin token created is unbudgeted, as the admin's requests are); each step's share
    // of the jobs' global model-call bound is its concurrency
    llm: (owner, usage) => {
      const judge = llmJudgeFor(env, { spend: owner.keyId === null ? [] : [{ kind: "key", keyId: owner.keyId }] });
      const settings = { ...judge.config.settings, concurrency: stepConcurrency(env) };
      return withUsage({ ...judge, config: { ...judge.config, settings } }, usage);
    },
    leaseMs: Number.isInteger(leaseMs) && leaseMs >= 100 ? leaseMs : DEFAULT_LEASE_MS,
  };
}

/** POST /v1/datasets/{name}/jobs/{kind}: the route of one kind, its body the kind's params. */
export function createJobRoute<K extends JobKindName>(kind: K, summary: string, description: string) {
  return createRoute({
    method: "post",
    path: `/v1/datasets/{name}/jobs/${kind}`,
    tags: ["Jobs"],
    summary,
    description:
      `${description} The job starts at once on the job queue (no client needs to stay up; watch it with \`GET .../jobs/{id}\` or \`npx iopo jobs watch\`); ` +
      "without a queue, drive it with `POST .../jobs/{id}/run`. It acts as the key that created it.",
    security,
    middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
    request: {
      params: nameParam,
      body: { required: true, content: { "application/json": { schema: JOB_KINDS[kind].params as (typeof JOB_KINDS)[K]["params"] } } },
    },
    responses: { 201: jsonContent(JobSchema, "The job"), ...problemResponses(400, 401, 403, 404, 415, 422) },
  });
}

/** Creates a `kind` job over the path's dataset as the caller, and enqueues it where there is a queue. */
export async function startJob(
  c: Context<AppEnv>,
  kind: JobKindName,
  params: (typeof JOB_KINDS)[JobKindName]["params"]["_output"],
  description: string,
) {
  const principal = c.get("principal");
  const source = await findDataset(c.env.DB, c.req.param("name")!, principal, "read");
  const target = await prepareTarget(c.env.DB, source, params.target, params.visibility, principal, description);
  const job = await createJob(c.env.DB, { source, target, kind, params, principal });
  await enqueueJob(c.env, job);
  return c.json(present(c.env, job), 201);
}

const createBuildJobRoute = createJobRoute(
  "build-quadruples",
  "Start building IOPO quadruples from this dataset's SFT records",
  "For each sft record (x1, y1) with verifiable constraints: x2 by ADD, DELETE or REVISE so that the judge says y1 fails it, y2 from other responses to the same task that satisfy x2; " +
    "kept only if y1|x1 and y2|x2 pass and y1|x2 fails (verdicts stored with the record). With `llm: true`, records with free-text constraints take the LLM path instead (the LLM edits x1 into x2, the judge confirms y1 fails it, the LLM answers x2, the judge keeps y2 only if it passes every constraint, a final LLM check); rejects are listed at `.../jobs/{id}/rejects`. Output goes to `target` (created if missing). " +
    "The job covers the records present now.",
);

const listJobsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs",
  tags: ["Jobs"],
  summary: "Jobs from or into this dataset (those on private targets only to their owner)",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: { 200: jsonContent(z.object({ jobs: z.array(JobSchema) }), "Jobs, newest first"), ...problemResponses(401, 403, 404) },
});

const jobParam = nameParam.extend({ id: z.string().uuid() });

const getJobRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}",
  tags: ["Jobs"],
  summary: "A job's status and progress (from its source or its target dataset)",
  middleware: [requireScope("read")] as const,
  request: { params: jobParam },
  responses: { 200: jsonContent(JobSchema, "The job"), ...problemResponses(401, 403, 404, 422) },
});

const runJobRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/{id}/run",
  tags: ["Jobs"],
  summary: "Process the job's next batches (where there is no job queue)",
  description:
    "Runs up to `max_batches` batches (within about 20 s), as the job's owner; only the owner or an admin may. Each batch commits its output and the cursor advance atomically, so an interrupted run resumes exactly; `busy` means another runner (the queue) holds the job.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: jobParam,
    body: {
      required: false,
      content: { "application/json": { schema: RunJobBody } },
    },
  },
  responses: {
    200: jsonContent(JobRunSchema, "The job after this run"),
    ...problemResponses(401, 403, 404, 415, 422),
  },
});

const ControlBody = z
  .object({
    token_budget: TokenBudget.optional().openapi({ description: "resume only: the job's new token budget" }),
  })
  .strict();

const controlRoute = (action: JobAction, summary: string) =>
  createRoute({
    method: "post",
    path: `/v1/datasets/{name}/jobs/{id}/${action}`,
    tags: ["Jobs"],
    summary,
    security,
    middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
    request: { params: jobParam, body: { required: false, content: { "application/json": { schema: ControlBody } } } },
    responses: { 200: jsonContent(JobSchema, "The job"), ...problemResponses(401, 403, 404, 409, 415, 422) },
  });

const CONTROL_ROUTES = {
  pause: controlRoute(
    "pause",
    "Pause a pending or running job: no further model call is sent; what is finished stays; resume continues at its cursor",
  ),
  resume: controlRoute("resume", "Resume a paused (or failed) job at its cursor, optionally with a larger token_budget"),
  cancel: controlRoute("cancel", "Cancel a job for good: no further model call is sent; the output so far stays"),
} as const;

const RejectSchema = z
  .object({ position: z.number().int(), source_record: z.string(), stage: z.string(), reason: z.string(), detail: z.unknown() })
  .openapi("JobReject");

const rejectsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}/rejects",
  tags: ["Jobs"],
  summary: "A job's reject table: the source records it produced nothing for, and why (its owner or an admin)",
  security,
  middleware: [requireScope("read")] as const,
  request: {
    params: jobParam,
    query: z.object({
      reason: z.string().max(500).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
      offset: z.coerce.number().int().min(0).default(0),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ by_reason: z.record(z.string(), z.number().int()), total: z.number().int(), rejects: z.array(RejectSchema) }),
      "Counts by reason and the rows",
    ),
    ...problemResponses(401, 403, 404, 422),
  },
});

const eventsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}/events",
  tags: ["Jobs"],
  summary: "A job's progress, live: an NDJSON line whenever it changes",
  description:
    "Each line is a JobEvent: the job's status and counts, what its last step added, the records per second since the stream began and the time left at that rate. " +
    "The stream ends when the job is paused, cancelled, done or failed, or after `timeout_s` (ask again to go on watching).",
  middleware: [requireScope("read")] as const,
  request: {
    params: jobParam,
    query: z.object({ timeout_s: z.coerce.number().int().min(1).max(600).default(60) }),
  },
  responses: {
    200: { description: "NDJSON, one JobEvent per line", content: { "application/x-ndjson": { schema: JobEventSchema } } },
    ...problemResponses(401, 403, 404, 422),
  },
});

/** How often an events stream looks at the job. */
const EVENTS_POLL_MS = 500;

/** The job's events until it stops moving or `timeoutMs` passed (see eventsRoute). */
function jobEvents(db: D1Database, first: JobWithUsage, timeoutMs: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const started = Date.now();
  const rejectedOf = (job: JobWithUsage) => Object.values((JSON.parse(job.progress) as BuildProgress).skipped).reduce((a, b) => a + b, 0);
  const countsOf = (job: JobWithUsage) => {
    const p = presentJob(job).progress;
    return { processed: p.processed, produced: p.produced, rejected: rejectedOf(job), tokens: p.usage.total_tokens, calls: p.usage.calls };
  };
  const event = (job: JobWithUsage, before: ReturnType<typeof countsOf>): JobEvent => {
    const now = countsOf(job);
    const seconds = (Date.now() - started) / 1000;
    const rate = job.cursor > first.cursor && seconds > 0 ? (job.cursor - first.cursor) / seconds : null;
    return {
      id: job.id,
      status: job.status,
      cursor: job.cursor,
      total: job.total,
      produced: now.produced,
      rejected: now.rejected,
      tokens: now.tokens,
      calls: now.calls,
      step: {
        processed: now.processed - before.processed,
        produced: now.produced - before.produced,
        rejected: now.rejected - before.rejected,
        tokens: now.tokens - before.tokens,
      },
      records_per_s: rate === null ? null : Math.round(rate * 100) / 100,
      eta_s: rate === null ? null : Math.round((job.total - job.cursor) / rate),
      error: job.error,
    };
  };
  const moving = (job: JobWithUsage) => job.status === "pending" || job.status === "running";
  let last = first;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (job: JobWithUsage, before: JobWithUsage) =>
        controller.enqueue(encoder.encode(`${JSON.stringify(event(job, countsOf(before)))}\n`));
      send(first, first);
      if (!moving(first)) return controller.close();
      const poll = async () => {
        const job = await jobById(db, first.id);
        if (!job) return controller.close();
        const changed =
          job.status !== last.status || job.cursor !== last.cursor || job.error !== last.error || job.usage?.calls !== last.usage?.calls;
        if (changed) send(job, last);
        last = job;
        if (!moving(job) || Date.now() - started >= timeoutMs) return controller.close();
        timer = setTimeout(() => poll().catch((error) => controller.error(error)), EVENTS_POLL_MS);
      };
      timer = setTimeout(() => poll().catch((error) => controller.error(error)), EVENTS_POLL_MS);
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
    },
  });
}

/** A job as the API shows it, saying who runs it here: the queue, or clients through `POST .../run`. */
const present = (env: Bindings, job: JobWithUsage) => ({
  ...presentJob(job),
  runner: env.JOB_QUEUE ? ("queue" as const) : ("client" as const),
});

/** The job the path names, as the caller may see (`read`) or control it. */
async function pathJob(c: Context<AppEnv>, id: string, access: "read" | "control") {
  const principal = c.get("principal");
  const dataset = await findDataset(c.env.DB, c.req.param("name")!, principal, "read");
  return findJob(c.env.DB, dataset, id, principal, access);
}

async function control(c: Context<AppEnv>, action: JobAction, body: z.infer<typeof ControlBody> | undefined) {
  const job = await pathJob(c, c.req.param("id")!, "control");
  const changed = await controlJob(c.env.DB, job, action, { tokenBudget: body?.token_budget });
  if (action === "resume") await enqueueJob(c.env, changed);
  return c.json(present(c.env, (await jobById(c.env.DB, job.id))!), 200);
}

export const jobRoutes = createRouter()
  .openapi(createBuildJobRoute, (c) =>
    startJob(c, "build-quadruples", c.req.valid("json"), `IOPO quadruples built from ${c.req.valid("param").name}`),
  )
  .openapi(listJobsRoute, async (c) => {
    const principal = c.get("principal");
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, principal, "read");
    return c.json({ jobs: (await listJobs(c.env.DB, dataset, principal)).map((job) => present(c.env, job)) }, 200);
  })
  .openapi(getJobRoute, async (c) => c.json(present(c.env, await pathJob(c, c.req.valid("param").id, "read")), 200))
  .openapi(runJobRoute, async (c) => {
    const { id } = c.req.valid("param");
    await pathJob(c, id, "control");
    const body = c.req.valid("json") ?? {};
    const result = await runJobSteps(c.env.DB, id, await jobContext(c.env), { maxBatches: body.max_batches ?? 10, budgetMs: 20_000 });
    // this run moved the cursor past the queue's message (which is then dropped as stale): the
    // queue takes over from here should this client not come back
    if (result.ran > 0 && result.job.status === "running") await enqueueJob(c.env, result.job);
    return c.json({ ...result, job: present(c.env, result.job) }, 200);
  })
  .openapi(CONTROL_ROUTES.pause, (c) => control(c, "pause", c.req.valid("json")))
  .openapi(CONTROL_ROUTES.resume, (c) => control(c, "resume", c.req.valid("json")))
  .openapi(CONTROL_ROUTES.cancel, (c) => control(c, "cancel", c.req.valid("json")))
  .openapi(eventsRoute, async (c) => {
    const job = await pathJob(c, c.req.valid("param").id, "read");
    const stream = jobEvents(c.env.DB, job, c.req.valid("query").timeout_s * 1000);
    return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" }) as never;
  })
  .openapi(rejectsRoute, async (c) => {
    const job = await pathJob(c, c.req.valid("param").id, "control");
    return c.json(await presentRejects(c.env.DB, job, c.req.valid("query")), 200);
  });
