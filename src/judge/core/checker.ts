/**
 * The checker core shared by both families (IFEval in ../ifeval, IFBench in ../ifbench): what a
 * checker is, `defineChecker`, and what a checker declares about itself besides its check: its TRACE
 * dimension and how the IOPO quadruple builder may perturb it (src/datasets/quadruples.ts reads
 * these from the registry, so adding a checker touches only the file that defines it).
 */
import type { z } from "zod";
import type { IfbenchInstructionId } from "../ifbench/ids.ts";
import type { IfevalInstructionId } from "../ifeval/ids.ts";
import { TextAnalysis } from "./analysis.ts";

/**
 * TRACE's 26 constraint dimensions (data/trace/taxonomy.json, seeded into D1 by
 * migrations/0001_seed_taxonomy.sql); test/node/checker-declarations.test.ts keeps them equal.
 */
export const TRACE_DIMENSIONS = [
  "Theme Constraint",
  "Exclusion Constraint",
  "Inclusion Constraint",
  "Value Constraint",
  "Privacy Constraint",
  "Numerical Constraint",
  "Role-Playing Constraint",
  "Target Audience Constraint",
  "Prior Condition Constraint",
  "Natural Language Process Background Information Constraint",
  "Markdown Process Background Information Constraint",
  "Table Background Information Constraint",
  "Text Background Information Constraint",
  "Tone and Style Constraint",
  "Emotion Constraint",
  "Linguistic Characteristics Constraint",
  "Multilingual Constraint",
  "Output Format Constraint",
  "Text Pattern Constraint",
  "Grammar Structure Constraint",
  "Citation Constraint",
  "Numbering and List Constraint",
  "Hierarchical Structure Constraint",
  "Template Constraint",
  "Positive Example Constraint",
  "Negative Example Constraint",
] as const;
export type TraceDimension = (typeof TRACE_DIMENSIONS)[number];

export interface CheckOutcome {
  passed: boolean;
  /** What was measured, e.g. `{words: 288, relation: "at least", target: 300}`. */
  evidence: Record<string, unknown>;
}

/** Every registered instruction id: IFEval's 25 and IFBench's 58. */
export type InstructionId = IfevalInstructionId | IfbenchInstructionId;
/** The benchmark an instruction id comes from. */
export type CheckerFamily = "ifeval" | "ifbench";

// biome-ignore lint/suspicious/noExplicitAny: the registry holds checkers of every kwargs type
export interface Checker<K = any> {
  readonly id: InstructionId;
  readonly family: CheckerFamily;
  /** The part of the id before ":", e.g. "length_constraints". */
  readonly category: string;
  readonly kwargsSchema: z.ZodType<K>;
  /** The instruction as the reference words it for these kwargs. */
  describe(kwargs: K): string;
  /**
   * The reference's `check_following` for one response (no blank-response rule, no loose variants:
   * see judge.ts). `analysis` may carry measurements already made on the same text.
   */
  check(response: string, kwargs: K, analysis?: TextAnalysis): CheckOutcome;
  /** The TRACE dimension of the constraint this checker verifies (for statistics on built data). */
  readonly trace: TraceDimension;
  readonly perturb: Perturbations<K>;
}

type Kwargs = Record<string, unknown>;

/**
 * How the IOPO quadruple builder may change a constraint of this checker so that a response that
 * follows it (y1) no longer does. Each is optional: a checker without any is never revised or added.
 */
// biome-ignore lint/suspicious/noExplicitAny: as for Checker, perturbations of every kwargs type
export interface Perturbations<K = any> {
  /**
   * REVISE: new kwargs for the same checker that y1 likely fails, from `evidence` (what this
   * checker measured on y1 under `kwargs`, which y1 follows). `kwargs` are passed as the record
   * stores them (valid, but unused keys may be null), and revisions spread them, so a record's
   * other keys survive unchanged. The builder asks the judge whether y1 really fails each.
   */
  revise?(kwargs: K, evidence: Record<string, unknown>, response: string): Kwargs[];
  /** REVISE by contradiction: checkers (taking no kwargs) that no response can follow together with this one. */
  contradictedBy?: readonly InstructionId[];
  /**
   * ADD: kwargs for a new constraint of this checker that y1 may fail. `measure(kwargs)` is this
   * checker's evidence on y1. `rank` orders the checkers' additions before the builder's seeded
   * shuffle; it is fixed so that a seed keeps building the same quadruples.
   */
  add?: { rank: number; kwargs(response: string, measure: (kwargs: K) => Record<string, unknown>): Kwargs[] };
}

/** REVISE for a counted quantity under "at least"/"less than": demand more than y1 has, or fewer. */
export function countRevisions(kwargs: Kwargs, measured: unknown, relationKey: string, targetKey: string, min = 1): Kwargs[] {
  if (typeof measured !== "number") return [];
  const out: Kwargs[] = [];
  for (const f of [1.3, 1.6, 2])
    out.push({ ...kwargs, [relationKey]: "at least", [targetKey]: Math.max(measured + 1, Math.ceil(measured * f)) });
  if (measured >= min + 1)
    for (const f of [0.5, 0.75]) out.push({ ...kwargs, [relationKey]: "less than", [targetKey]: Math.max(min, Math.floor(measured * f)) });
  return out;
}

/**
 * A checker from its parts; every family (IFEval in ../ifeval, IFBench in ../ifbench) builds its checkers
 * with this, so they share one TextAnalysis per response text.
 */
export function defineChecker<S extends z.ZodType>(
  family: CheckerFamily,
  definition: {
    id: InstructionId;
    kwargs: S;
    describe(kwargs: z.output<S>): string;
    check(text: TextAnalysis, kwargs: z.output<S>): CheckOutcome;
    trace: TraceDimension;
    perturb?: Perturbations<z.output<S>>;
  },
): Checker<z.output<S>> {
  return {
    id: definition.id,
    family,
    category: definition.id.slice(0, definition.id.indexOf(":")),
    kwargsSchema: definition.kwargs as unknown as z.ZodType<z.output<S>>,
    describe: definition.describe,
    trace: definition.trace,
    perturb: definition.perturb ?? {},
    check(response, kwargs, analysis) {
      const text = analysis && analysis.text === response ? analysis : new TextAnalysis(response);
      return definition.check(text, kwargs);
    },
  };
}
