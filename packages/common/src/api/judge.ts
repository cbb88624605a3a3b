import { z } from "@hono/zod-openapi";

/**
 * The judge's verdicts on the wire (POST /v1/judge, and each result of /v1/judge/batch): one result
 * per constraint, decided by a rule, the LLM, or a rule the LLM compiled the text into.
 */

export const RuleResultSchema = z
  .object({
    id: z.string(),
    kind: z.literal("rule"),
    decided_by: z.enum(["rule", "compiled-rule"]),
    status: z.literal("ok"),
    passed: z.boolean(),
    evidence: z.record(z.string(), z.unknown()).openapi({ example: { words: 288, relation: "at least", target: 300 } }),
    text: z.string().optional().openapi({ description: "compiled-rule: the free-text constraint" }),
    dimension: z.string().optional(),
    compiled: z
      .object({
        id: z.string(),
        kwargs: z.record(z.string(), z.unknown()),
        model: z.string(),
        prompt_version: z.string(),
        cached: z.boolean(),
      })
      .optional()
      .openapi({ description: "compiled-rule: the checker the LLM compiled the text into" }),
  })
  .openapi("ConstraintVerdict");

export const LlmResultSchema = z
  .object({
    kind: z.literal("llm"),
    decided_by: z.literal("llm"),
    text: z.string(),
    dimension: z.string().optional(),
    status: z.enum(["ok", "error"]),
    passed: z.boolean().nullable().openapi({ description: "null when status is error" }),
    score: z.number().optional().openapi({ description: "0-10" }),
    explanation: z.string().optional(),
    model: z.string().optional(),
    prompt_version: z.string().optional(),
    cached: z.boolean().optional(),
    reason: z.string().optional().openapi({ description: "status error: why the grader failed" }),
    attempts: z.number().int().optional(),
    compile: z.object({ status: z.enum(["no-match", "invalid", "error"]), reason: z.string() }).optional(),
  })
  .openapi("LlmConstraintVerdict");

/** One verdict: `followed_all` only when every result passed; `errors` counts results the grader could not decide. */
export const JudgeVerdictSchema = z
  .object({ followed_all: z.boolean(), errors: z.number().int(), results: z.array(z.union([RuleResultSchema, LlmResultSchema])) })
  .openapi("JudgeVerdict");

/** One mode's verdict, or with mode "both" the strict and the loose one. */
export const JudgeResponseSchema = z
  .union([
    JudgeVerdictSchema.extend({ mode: z.enum(["strict", "loose"]) }),
    z.object({
      mode: z.literal("both"),
      followed_all: z.boolean(),
      errors: z.number().int(),
      strict: JudgeVerdictSchema,
      loose: JudgeVerdictSchema,
    }),
  ])
  .openapi("JudgeResponse");
