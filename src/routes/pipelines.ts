import { createRoute, z } from "@hono/zod-openapi";
import { createJob, findJob, prepareTarget, presentJob, presentRejects } from "../datasets/jobs.ts";
import { findDataset } from "../datasets/store/access.ts";
import { requireScope } from "../lib/auth.ts";
import { acceptBody, JSON_TYPES } from "../lib/middleware.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { DatasetName, JobSchema } from "@iopo/common/api";
import { JobSeed, nameParam, TargetVisibility } from "./dataset-schemas.ts";

/** The LLM pipelines' routes: starting a TRACE construction job, and any job's reject table. */

const security = [{ bearer: [] }];
const jobParam = nameParam.extend({ id: z.string().uuid() });

const buildTraceRoute = createRoute({
  method: "post",
  path: "/v1/datasets/{name}/jobs/build-trace",
  tags: ["Jobs"],
  summary: "Start building TRACE-style instruction+response data from this dataset's simple instructions (LLM)",
  description:
    "For each instruction (or sft) record, taken as a simple instruction (description and input): the LLM expands it with one constraint per taxonomy dimension " +
    "(how many, between `min_constraints` and `max_constraints`, and which, drawn from `seed` and the record id), structures it into task description, constraints and input, " +
    "rejects it if contradictory, unanswerable or trivial, answers it, and the LLM judge keeps the response only if it scores 10 on every constraint. " +
    "Kept pairs go to `target` (created if missing) as sft records with their verdict and provenance (model, prompt versions, job id); rejects are listed at `.../jobs/{id}/rejects`. " +
    "Drive it with `POST .../jobs/{id}/run` or `npx iopo build-trace`; every model output is cached in D1, so a resumed or repeated run makes no call twice.",
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
              seed: JobSeed,
              batch_size: z.number().int().min(1).max(50).default(10),
              min_constraints: z.number().int().min(1).max(26).default(2),
              max_constraints: z.number().int().min(1).max(26).default(5),
              visibility: TargetVisibility,
            })
            .strict()
            .refine((b) => b.min_constraints <= b.max_constraints, {
              message: "must be at least min_constraints",
              path: ["max_constraints"],
            }),
        },
      },
    },
  },
  responses: { 201: jsonContent(JobSchema, "The job"), ...problemResponses(400, 401, 403, 404, 415, 422) },
});

const RejectSchema = z
  .object({ position: z.number().int(), source_record: z.string(), stage: z.string(), reason: z.string(), detail: z.unknown() })
  .openapi("JobReject");

const rejectsRoute = createRoute({
  method: "get",
  path: "/v1/datasets/{name}/jobs/{id}/rejects",
  tags: ["Jobs"],
  summary: "A job's reject table: the source records it produced nothing for, and why",
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

export const pipelineRoutes = createRouter()
  .openapi(buildTraceRoute, async (c) => {
    const principal = c.get("principal");
    const source = await findDataset(c.env.DB, c.req.valid("param").name, principal, "read");
    const { visibility, ...params } = c.req.valid("json");
    await prepareTarget(c.env.DB, source, params.target, visibility, principal, `TRACE-style data built from ${source.name}`);
    return c.json(presentJob(await createJob(c.env.DB, source, "build-trace", params)), 201);
  })
  .openapi(rejectsRoute, async (c) => {
    const { name, id } = c.req.valid("param");
    const q = c.req.valid("query");
    const dataset = await findDataset(c.env.DB, name, c.get("principal"), "read");
    const job = await findJob(c.env.DB, dataset, id);
    return c.json(await presentRejects(c.env.DB, job, q), 200);
  });
