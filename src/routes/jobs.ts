import { createRoute, z } from "@hono/zod-openapi";
import { validateConstraintChecker } from "../datasets/checkers.ts";
import { createJob, findJob, listJobs, prepareTarget, presentJob, runJobSteps } from "../datasets/jobs.ts";
import { BUILD_OPS } from "../datasets/quadruples.ts";
import { findDataset } from "../datasets/store/access.ts";
import { loadTaxonomyIndex } from "../datasets/taxonomy.ts";
import type { UsageObserver } from "../judge/llm/index.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { withUsage } from "../pipelines/llm.ts";
import { DatasetName, JobRunSchema, JobSchema, RunJobBody } from "@iopo/common/api";
import { JobSeed, nameParam, TargetVisibility } from "./dataset-schemas.ts";
import { requestLlmJudge } from "./judge.ts";

/** Jobs over a dataset: start a quadruple build, list, read, run the next batches. */

const security = [{ bearer: [] }];

const createBuildJobRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/build-quadruples",
  tags: ["Jobs"],
  summary: "Start building IOPO quadruples from this dataset's SFT records",
  description:
    "For each sft record (x1, y1) with verifiable constraints: x2 by ADD, DELETE or REVISE so that the judge says y1 fails it, y2 from other responses to the same task that satisfy x2; " +
    "kept only if y1|x1 and y2|x2 pass and y1|x2 fails (verdicts stored with the record). With `llm: true`, records with free-text constraints take the LLM path instead (the LLM edits x1 into x2, the judge confirms y1 fails it, the LLM answers x2, the judge keeps y2 only if it passes every constraint, a final LLM check); rejects are listed at `.../jobs/{id}/rejects`. Output goes to `target` (created if missing). " +
    "The job covers the records present now; drive it with `POST .../jobs/{id}/run` or `npx iopo build-quadruples`.",
  security,
  middleware: [requireScope("write"), acceptBody(...JSON_TYPES)] as const,
  request: {
    params: nameParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              target: DatasetName,
              ops: z
                .array(z.enum(BUILD_OPS))
                .min(1)
                .default([...BUILD_OPS]),
              seed: JobSeed,
              batch_size: z.number().int().min(1).max(500).default(50),
              max_candidates: z.number().int().min(1).max(200).default(24),
              llm: z.boolean().default(false).openapi({
                description:
                  "records with free-text constraints go through the LLM path (edit, judge, answer, check); verifiable ones keep the rules",
              }),
              visibility: TargetVisibility,
            })
            .strict(),
        },
      },
    },
  },
  responses: { 201: jsonContent(JobSchema, "The job"), ...problemResponses(400, 401, 403, 404, 415, 422) },
});

const listJobsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs",
  tags: ["Jobs"],
  summary: "Jobs over this dataset",
  middleware: [requireScope("read")] as const,
  request: { params: nameParam },
  responses: { 200: jsonContent(z.object({ jobs: z.array(JobSchema) }), "Jobs, newest first"), ...problemResponses(401, 403, 404) },
});

const jobParam = nameParam.extend({ id: z.string().uuid() });

const getJobRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}",
  tags: ["Jobs"],
  summary: "A job's status and progress",
  middleware: [requireScope("read")] as const,
  request: { params: jobParam },
  responses: { 200: jsonContent(JobSchema, "The job"), ...problemResponses(401, 403, 404, 422) },
});

const runJobRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/{id}/run",
  tags: ["Jobs"],
  summary: "Process the job's next batches",
  description:
    "Runs up to `max_batches` batches (within about 20 s). Each batch commits its output and the cursor advance atomically, so an interrupted run resumes exactly; `busy` means another runner holds the job.",
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

export const jobRoutes = createRouter()
  .openapi(createBuildJobRoute, async (c) => {
    const principal = c.get("principal");
    const source = await findDataset(c.env.DB, c.req.valid("param").name, principal, "read");
    const body = c.req.valid("json");
    await prepareTarget(c.env.DB, source, body.target, body.visibility, principal, `IOPO quadruples built from ${source.name}`);
    const { visibility: _visibility, ...params } = body;
    return c.json(presentJob(await createJob(c.env.DB, source, "build-quadruples", params)), 201);
  })
  .openapi(listJobsRoute, async (c) => {
    const dataset = await findDataset(c.env.DB, c.req.valid("param").name, c.get("principal"), "read");
    return c.json({ jobs: (await listJobs(c.env.DB, dataset)).map(presentJob) }, 200);
  })
  .openapi(getJobRoute, async (c) => {
    const { name, id } = c.req.valid("param");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    return c.json(presentJob(await findJob(c.env.DB, dataset, id)), 200);
  })
  .openapi(runJobRoute, async (c) => {
    const { name, id } = c.req.valid("param");
    const principal = c.get("principal");
    const source = await findDataset(c.env.DB, name, principal, "read");
    const job = await findJob(c.env.DB, source, id);
    const target = await findDataset(c.env.DB, (JSON.parse(job.params) as { target: string }).target, principal, "write");
    const taxonomy = await loadTaxonomyIndex(c.env.DB);
    const body = c.req.valid("json") ?? {};
    const context = {
      validateChecker: validateConstraintChecker,
      dimensionNames: taxonomy.dimensionNames,
      llm: (usage: UsageObserver) => withUsage(requestLlmJudge(c), usage),
    };
    const result = await runJobSteps(c.env.DB, source, target, id, context, { maxBatches: body.max_batches ?? 10, budgetMs: 20_000 });
    return c.json(
      {
        job: presentJob(result.job),
        ran: result.ran,
        busy: result.busy,
        ...(result.interrupted ? { interrupted: result.interrupted } : {}),
      },
      200,
    );
  });
