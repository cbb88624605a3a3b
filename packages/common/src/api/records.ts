import { z } from "@hono/zod-openapi";

/**
 * Dataset records on the wire: the record kinds a dataset holds, and the one structured shape of
 * an instruction they share. Instructions keep their constraints as a list (text, TRACE dimension,
 * and for verifiable ones a checker id + kwargs), so the judge and the quadruple builder can work
 * on them one by one. The Worker validates ingested records with these schemas; the trainer reads
 * the same shapes back (their types in ../api-types.ts).
 */

export const MAX_CONSTRAINTS = 64;
/** Documented caps on a record (README "Limits"): how deep its JSON nests, and the size of `meta`. */
export const RECORD_LIMITS = { maxDepth: 64, metaJsonChars: 65_536 } as const;
const longText = (max: number) => z.string().max(max);

export const ConstraintSchema = z
  .object({
    text: z.string().min(1).max(20_000).openapi({ example: "Answer in fewer than 100 words." }),
    dimension: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "TRACE dimension: English name, slug or Chinese label; stored as the English name" }),
    checker: z
      .object({
        id: z.string().min(1).max(100).openapi({ example: "length_constraints:number_words" }),
        kwargs: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .optional()
      .openapi({ description: "For a verifiable constraint: the registered checker that decides it" }),
  })
  .strict()
  .openapi("Constraint");

export const InstructionSchema = z
  .object({
    description: longText(200_000).openapi({ description: "The task, without its constraints" }),
    constraints: z.array(ConstraintSchema).max(MAX_CONSTRAINTS),
    input: longText(500_000).nullable().optional().openapi({ description: "Task input, if any" }),
    prompt: longText(500_000)
      .optional()
      .openapi({ description: "The verbatim user prompt when the constraints are embedded in it (IFEval); otherwise rendered" }),
    system: longText(50_000).optional(),
  })
  .strict()
  .openapi("Instruction");

export const VerdictSchema = z
  .object({
    followed_all: z.boolean(),
    results: z.array(z.record(z.string(), z.unknown())),
    judge: z.string().optional(),
  })
  .strict()
  .openapi("Verdict");

const response = longText(1_000_000);
const meta = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= RECORD_LIMITS.metaJsonChars, `at most ${RECORD_LIMITS.metaJsonChars} characters of JSON`)
  .optional()
  .openapi({ description: `Free-form provenance (source id, category, ...), at most ${RECORD_LIMITS.metaJsonChars} characters of JSON` });

export const InstructionRecordSchema = z.object({ kind: z.literal("instruction"), instruction: InstructionSchema, meta }).strict();
export const SftRecordSchema = z
  .object({ kind: z.literal("sft"), instruction: InstructionSchema, response, verdict: VerdictSchema.optional(), meta })
  .strict();
export const DpoRecordSchema = z
  .object({
    kind: z.literal("dpo"),
    prompt: InstructionSchema,
    chosen: response,
    rejected: response,
    verdicts: z.object({ chosen: VerdictSchema.optional(), rejected: VerdictSchema.optional() }).strict().optional(),
    meta,
  })
  .strict();
export const IopoRecordSchema = z
  .object({
    kind: z.literal("iopo"),
    x1: InstructionSchema,
    y1: response,
    x2: InstructionSchema,
    y2: response,
    /** The judge's evidence: y1|x1 and y2|x2 pass, y1|x2 fails (y2|x1 is informative). */
    verdicts: z
      .object({
        y1_x1: VerdictSchema.optional(),
        y2_x2: VerdictSchema.optional(),
        y1_x2: VerdictSchema.optional(),
        y2_x1: VerdictSchema.optional(),
      })
      .strict()
      .optional(),
    meta,
  })
  .strict();

export const RecordSchema = z
  .discriminatedUnion("kind", [InstructionRecordSchema, SftRecordSchema, DpoRecordSchema, IopoRecordSchema])
  .openapi("Record");
