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
  // The reference splits on "\n" and joins lines [1:], [:-1] and [1:-1] again: the same texts
  // as slicing after the first and before the last newline (empty when there are too few lines).
  const firstNewline = response.indexOf("\n");
  const lastNewline = response.lastIndexOf("\n");
  const withoutFirst = firstNewline < 0 ? "" : pyStrip(response.slice(firstNewline + 1));
  const withoutLast = lastNewline < 0 ? "" : pyStrip(response.slice(0, lastNewline));
  const withoutBoth = firstNewline === lastNewline ? "" : pyStrip(response.slice(firstNewline + 1, lastNewline));
  const noAsterisks = (s: string) => (s.includes("*") ? s.replaceAll("*", "") : s);
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

/** A non-blank loose variant; `sameAs` is the first variant with the same text, if another. */
interface LooseText {
  variant: LooseVariant;
  text: string;
  sameAs?: LooseText;
  analysis?: TextAnalysis;
}

/**
 * Shares one TextAnalysis per distinct text across all constraints judged on the same response
 * (loose variants often coincide, e.g. when the response has no "*"). Texts are matched by
 * comparing the eight variants once, not by hashing them in a map: hashing reads every
 * character of every variant, which costs more than the lookups save.
 */
export class AnalysisCache {
  private readonly memo = new TextMemo();
  private response?: string;
  private responseAnalysis?: TextAnalysis;
  private loose?: LooseText[];
  private analysed = 0;

  /** How many distinct texts have been analysed. */
  get size(): number {
    return this.analysed;
  }

  private forResponse(response: string): void {
    if (this.response === response) return;
    this.response = response;
    this.responseAnalysis = undefined;
    this.loose = undefined;
  }

  /** The analysis of the response itself (strict mode). */
  get(response: string): TextAnalysis {
    this.forResponse(response);
    if (!this.responseAnalysis) {
      this.responseAnalysis = new TextAnalysis(response, this.memo);
      this.analysed++;
    }
    return this.responseAnalysis;
  }

  /** The non-blank loose variants of `response`, made (and tested for blankness) once for all its constraints. */
  looseTexts(response: string): readonly LooseText[] {
    this.forResponse(response);
    if (!this.loose) {
      const texts: LooseText[] = looseVariants(response).filter(({ text }) => !isPyBlank(text));
      texts.forEach((loose, i) => {
        loose.sameAs = texts.slice(0, i).find((earlier) => !earlier.sameAs && earlier.text === loose.text);
      });
      this.loose = texts;
    }
    return this.loose;
  }

  /** The analysis of one loose variant, shared with the response and equal variants. */
  looseAnalysis(loose: LooseText): TextAnalysis {
    const owner = loose.sameAs ?? loose;
    if (!owner.analysis) {
      if (owner.text === this.response) owner.analysis = this.get(owner.text);
      else {
        owner.analysis = new TextAnalysis(owner.text, this.memo);
        this.analysed++;
      }
    }
    return owner.analysis;
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
  for (const loose of cache.looseTexts(response)) {
    const outcome = checker.check(loose.text, kwargs, cache.looseAnalysis(loose));
    if (outcome.passed) return result(true, { ...outcome.evidence, variant: loose.variant });
    first ??= { ...outcome.evidence, variant: loose.variant };
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
