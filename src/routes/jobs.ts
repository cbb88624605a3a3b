import { createRoute, z } from "@hono/zod-openapi";
import { controlJobHere, namedJob, presentJobHere, runJobHere, startJob } from "../datasets/job-control.ts";
import { jobEvents } from "../datasets/job-events.ts";
import { TokenBudget } from "../datasets/job-kind.ts";
import { RECORD_JOB_KINDS, type RecordJobKindName } from "../datasets/job-registry.ts";
import { listJobs, presentRejects, type JobAction } from "../datasets/jobs.ts";
import { findDataset } from "../datasets/store/access.ts";
import type { AppEnv } from "../env.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { JobEventSchema, JobRunSchema, JobSchema, RunJobBody } from "@iopo/common/api";
import type { Context } from "hono";
import { nameParam } from "./dataset-schemas.ts";

/**
 * Jobs over a dataset: start one (a kind of job-registry.ts), list, read, control (pause, resume,
 * cancel), its rejects, and `run` for environments without the job queue. A job is reached from
 * its source or its target dataset; only its owner (or an admin) controls it or reads its rejects.
 */

const security = [{ bearer: [] }];

/** POST /v1/datasets/{name}/jobs/{kind}: the route of one kind, its body the kind's params. */
export function createJobRoute<K extends RecordJobKindName>(kind: K, summary: string, description: string) {
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
      body: {
        required: true,
        content: { "application/json": { schema: RECORD_JOB_KINDS[kind].params as (typeof RECORD_JOB_KINDS)[K]["params"] } },
      },
    },
    responses: { 201: jsonContent(JobSchema, "The job"), ...problemResponses(400, 401, 403, 404, 415, 422) },
  });
}

/** Starts a `kind` job over the path's dataset as the caller (201, the job). */
export async function startJobRoute(
  c: Context<AppEnv>,
  kind: RecordJobKindName,
  params: (typeof RECORD_JOB_KINDS)[RecordJobKindName]["params"]["_output"],
  description: string,
) {
  const job = await startJob(c.env, c.get("principal"), c.req.param("name")!, kind, params, description);
  return c.json(presentJobHere(c.env, job), 201);
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
    "Each line is a JobEvent: the job's status and counts, what its last step added and each source record it finished (produced, duplicate or rejected, at which stage, with its tokens), the records per second since the stream began and the time left at that rate. " +
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

/** The job the path names, as the caller may see (`read`) or control it. */
const pathJob = (c: Context<AppEnv>, access: "read" | "control") =>
  namedJob(c.env, c.get("principal"), c.req.param("name")!, c.req.param("id")!, access);

async function control(c: Context<AppEnv>, action: JobAction, body: z.infer<typeof ControlBody> | undefined) {
  const job = await controlJobHere(c.env, await pathJob(c, "control"), action, { tokenBudget: body?.token_budget });
  return c.json(presentJobHere(c.env, job), 200);
}

export const jobRoutes = createRouter()
  .openapi(createBuildJobRoute, (c) =>
    startJobRoute(c, "build-quadruples", c.req.valid("json"), `IOPO quadruples built from ${c.req.valid("param").name}`),
  )
  .openapi(listJobsRoute, async (c) => {
    const principal = c.get("principal");
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, principal, "read");
    return c.json({ jobs: (await listJobs(c.env.DB, dataset, principal)).map((job) => presentJobHere(c.env, job)) }, 200);
  })
  .openapi(getJobRoute, async (c) => c.json(presentJobHere(c.env, await pathJob(c, "read")), 200))
  .openapi(runJobRoute, async (c) => {
    const result = await runJobHere(c.env, await pathJob(c, "control"), c.req.valid("json")?.max_batches ?? 10);
    return c.json({ ...result, job: presentJobHere(c.env, result.job) }, 200);
  })
  .openapi(CONTROL_ROUTES.pause, (c) => control(c, "pause", c.req.valid("json")))
  .openapi(CONTROL_ROUTES.resume, (c) => control(c, "resume", c.req.valid("json")))
  .openapi(CONTROL_ROUTES.cancel, (c) => control(c, "cancel", c.req.valid("json")))
  .openapi(eventsRoute, async (c) => {
    const stream = jobEvents(c.env.DB, await pathJob(c, "read"), c.req.valid("query").timeout_s * 1000);
    return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" }) as never;
  })
  .openapi(rejectsRoute, async (c) => c.json(await presentRejects(c.env.DB, await pathJob(c, "control"), c.req.valid("query")), 200));
