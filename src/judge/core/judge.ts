/**
 * Judging one response against a list of IFEval constraints, strict or loose, as the reference's
 * `test_instruction_following_strict` / `_loose` do.
 *
 * - strict: a blank response fails every instruction; otherwise each checker sees the response as is.
 * - loose: an instruction is followed if any non-blank variant of the response passes: the
 *   response; without its first line; without its last line; without both; and each of those four
 *   with every "*" removed (the line-dropping variants are stripped of surrounding whitespace).
 */
import { isPyBlank, pyStrip } from "../text/python-str.ts";
import { TextAnalysis, TextMemo } from "./analysis.ts";
import type { Checker, InstructionId } from "./checker.ts";
import { validateConstraints } from "./registry.ts";

export type JudgeMode = "strict" | "loose";

export interface Constraint {
  id: string;
  /** Kwargs as in IFEval data; `{}`/absent for instructions without arguments. */
  kwargs?: unknown;
}

export interface ConstraintResult {
  id: InstructionId;
  kind: "rule";
  passed: boolean;
  /**
   * What the checker measured. In loose mode, `variant` names the response variant it measured:
   * the first one that passed, else the response itself.
   */
  evidence: Record<string, unknown>;
}

export interface JudgeResult {
  followed_all: boolean;
  results: ConstraintResult[];
}

export const LOOSE_VARIANTS = [
  "response",
  "response_without_asterisks",
  "without_first_line",
  "without_last_line",
  "without_first_and_last_line",
  "without_first_line_and_asterisks",
  "without_last_line_and_asterisks",
  "without_first_and_last_line_and_asterisks",
] as const;
export type LooseVariant = (typeof LOOSE_VARIANTS)[number];

/** The eight texts loose mode tries, in the reference's order. */
export function looseVariants(response: string): Array<{ variant: LooseVariant; text: string }> {
  const lines = response.split("\n");
  const withoutFirst = pyStrip(lines.slice(1).join("\n"));
  const withoutLast = pyStrip(lines.slice(0, -1).join("\n"));
  const withoutBoth = pyStrip(lines.slice(1, -1).join("\n"));
  const noAsterisks = (s: string) => s.replaceAll("*", "");
  const texts = [
    response,
    noAsterisks(response),
    withoutFirst,
    withoutLast,
    withoutBoth,
    noAsterisks(withoutFirst),
    noAsterisks(withoutLast),
    noAsterisks(withoutBoth),
  ];
  return texts.map((text, i) => ({ variant: LOOSE_VARIANTS[i]!, text }));
}

/**
 * Shares one TextAnalysis per distinct text across all constraints judged on the same response
 * (loose variants often coincide, e.g. when the response has no "*").
 */
export class AnalysisCache {
  private readonly byText = new Map<string, TextAnalysis>();
  private readonly memo = new TextMemo();
  private variants?: { response: string; list: ReturnType<typeof looseVariants> };

  /** How many distinct texts have been analysed. */
  get size(): number {
    return this.byText.size;
  }

  /** `looseVariants(response)`, made once for all the constraints judged on the response. */
  looseVariants(response: string): ReturnType<typeof looseVariants> {
    if (this.variants?.response !== response) this.variants = { response, list: looseVariants(response) };
    return this.variants.list;
  }

  get(text: string): TextAnalysis {
    let analysis = this.byText.get(text);
    if (!analysis) {
      analysis = new TextAnalysis(text, this.memo);
      this.byText.set(text, analysis);
    }
    return analysis;
  }
}

/** Judges one already-validated constraint. */
export function judgeOne(
  checker: Checker,
  kwargs: unknown,
  response: string,
  mode: JudgeMode,
  cache: AnalysisCache = new AnalysisCache(),
): ConstraintResult {
  const result = (passed: boolean, evidence: Record<string, unknown>): ConstraintResult => ({
    id: checker.id,
    kind: "rule",
    passed,
    evidence,
  });
  if (isPyBlank(response)) return result(false, { blank_response: true });
  if (mode === "strict") {
    const outcome = checker.check(response, kwargs, cache.get(response));
    return result(outcome.passed, outcome.evidence);
  }
  let first: Record<string, unknown> | undefined;
  for (const { variant, text } of cache.looseVariants(response)) {
    if (isPyBlank(text)) continue;
    const outcome = checker.check(text, kwargs, cache.get(text));
    if (outcome.passed) return result(true, { ...outcome.evidence, variant });
    first ??= { ...outcome.evidence, variant };
  }
  return result(false, first!);
}

/**
 * Judges `response` against `constraints`. Validates everything first and throws
 * JudgeInputError listing every unknown id and invalid kwarg (paths `[index, "id"]` or
 * `[index, "kwargs", name]`, after `pathPrefix`).
 */
export function judgeConstraints(
  response: string,
  constraints: ReadonlyArray<Constraint>,
  mode: JudgeMode,
  options: { pathPrefix?: Array<string | number> } = {},
): JudgeResult {
  const validated = validateConstraints(constraints, options.pathPrefix);
  const cache = new AnalysisCache();
  const results = validated.map(({ checker, kwargs }) => judgeOne(checker, kwargs, response, mode, cache));
  return { followed_all: results.every((r) => r.passed), results };
}
