import { createRouter } from "../lib/openapi.ts";
import { createJobRoute, startJobRoute } from "./jobs.ts";

/** The LLM pipelines' routes: starting a TRACE construction job (the other job routes are in jobs.ts). */

const buildTraceRoute = createJobRoute(
  "build-trace",
  "Start building TRACE-style instruction+response data from this dataset's simple instructions (LLM)",
  "For each instruction (or sft) record, taken as a simple instruction (description and input): the LLM expands it with one constraint per taxonomy dimension " +
    "(how many, between `min_constraints` and `max_constraints`, and which, drawn from `seed` and the record id), structures it into task description, constraints and input, " +
    "rejects it if contradictory, unanswerable or trivial, answers it, and the LLM judge keeps the response only if it scores 10 on every constraint. " +
    "Kept pairs go to `target` (created if missing) as sft records with their verdict and provenance (model, prompt versions, job id); rejects are listed at `.../jobs/{id}/rejects`. " +
    "Every model output is cached in D1, so a resumed or repeated run makes no call twice.",
);

export const pipelineRoutes = createRouter().openapi(buildTraceRoute, (c) =>
  startJobRoute(c, "build-trace", c.req.valid("json"), `TRACE-style data built from ${c.req.valid("param").name}`),
);
