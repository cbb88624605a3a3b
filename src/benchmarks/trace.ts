/**
 * TRACE scoring: every constraint of each submitted response's instruction judged by the LLM
 * judge against the rendered prompt, reported as IF-S, IF-M and overall accuracy, and constraint
 * accuracy per type and dimension (the taxonomy in D1).
 */
import { z } from "@hono/zod-openapi";
import { LIMITS } from "@iopo/common";
import { renderPrompt } from "../datasets/records.ts";
import { findDataset } from "../datasets/store/access.ts";
import { instructionsByTraceId } from "../datasets/store/rows.ts";
import { loadTaxonomyIndex, resolveDimension } from "../datasets/taxonomy.ts";
import {
  judgeFreeText,
  PROMPT_VERSION,
  traceItemStatus,
  traceReport,
  traceSubset,
  type LlmJudge,
  type LlmVerdict,
  type TraceConstraintOutcome,
} from "../judge/llm/index.ts";
import type { Principal } from "../lib/principal.ts";
import { ProblemError } from "../lib/problem.ts";
import { readSubmissions } from "./submissions.ts";

const TraceSubmissionSchema = z
  .object({
    id: z.union([z.string().min(1).max(100), z.number().int().nonnegative()]),
    response: z.string().max(LIMITS.responseChars),
  })
  .strict();

/** Scores a request body of `{id, response}` lines against the TRACE evaluation set `dataset`. */
export async function scoreTrace(
  db: D1Database,
  principal: Principal,
  judge: LlmJudge,
  request: { dataset: string; cache: "use" | "bypass"; body: string; isJson: boolean },
) {
  const submissions = readSubmissions(request.body, request.isJson, TraceSubmissionSchema, {
    max: LIMITS.traceItems,
    noun: "responses",
    command: "npx iopo trace-eval",
    keyField: "id",
  }).map(({ line, value }) => ({ line, id: String(value.id), response: value.response }));

  if (!judge.config.provider) {
    throw new ProblemError(503, "service-unavailable", `TRACE scoring needs the LLM judge, and ${judge.config.unavailableReason}.`);
  }
  const dataset = await findDataset(db, request.dataset, principal, "read").catch((error) => {
    if (error instanceof ProblemError && error.status === 404) {
      throw new ProblemError(
        404,
        "not-found",
        `The TRACE evaluation set "${request.dataset}" is not in this database; \`npm start\` seeds it, or import it with \`npx iopo import --format trace\`.`,
        [{ field: "query.dataset", message: "unknown dataset" }],
      );
    }
    throw error;
  });
  const instructions = await instructionsByTraceId(
    db,
    dataset.id,
    submissions.map((s) => s.id),
  );
  const unmatched = submissions.filter((s) => !instructions.has(s.id));
  if (unmatched.length) {
    throw new ProblemError(
      422,
      "validation",
      `${unmatched.length} response(s) match no instruction of "${dataset.name}".`,
      unmatched.slice(0, 200).map((s) => ({ field: "id", line: s.line, message: `no TRACE instruction with id ${s.id}` })),
    );
  }
  const taxonomy = await loadTaxonomyIndex(db);
  const normalise = (dimension: string | undefined) =>
    dimension === undefined ? null : (resolveDimension(taxonomy, dimension) ?? dimension);

  const verdicts = await Promise.all(
    submissions.map(async (s) => {
      const instruction = instructions.get(s.id)!;
      const judged: LlmVerdict[] = await judgeFreeText(judge, {
        instruction: renderPrompt(instruction),
        response: s.response,
        constraints: instruction.constraints.map((k) =>
          k.dimension !== undefined ? { text: k.text, dimension: k.dimension } : { text: k.text },
        ),
        cache: request.cache,
      });
      const results = instruction.constraints.map((k, i) => {
        const dimension = normalise(k.dimension);
        return {
          text: k.text,
          dimension,
          type: dimension === null ? null : (taxonomy.typeOfDimension.get(dimension) ?? null),
          ...judged[i]!,
        };
      });
      const status = traceItemStatus(results as TraceConstraintOutcome[]);
      return {
        id: s.id,
        line: s.line,
        subset: traceSubset(s.id),
        status,
        followed_all: status === "followed",
        errors: results.filter((r) => r.status === "error").length,
        results,
      };
    }),
  );
  const { provider, settings } = judge.config;
  return {
    report: {
      dataset: dataset.name,
      dataset_instructions: dataset.recordCount,
      instructions: verdicts.length,
      ...traceReport(verdicts),
      judge: { provider: provider!.kind, model: provider!.model, prompt_version: PROMPT_VERSION, pass_score: settings.passScore },
    },
    verdicts,
  };
}
