import { JudgeInputError, judgeConstraints, type ConstraintResult, type JudgeIssue, type JudgeMode } from "../index.ts";
import type { JudgeResponse, JudgeVerdict } from "@iopo/common";
import { compileFreeText, judgeFreeText, type CacheMode, type CompileOutcome, type LlmJudge, type LlmVerdict } from "./judge.ts";

/**
 * Hybrid judging of one item: `{id, kwargs}` constraints go to the registered checkers; free-text
 * `{text, dimension?}` constraints go to the LLM judge, or, with `compile`, are first compiled into
 * a registered checker that then decides them exactly. Every result says what decided it.
 */
export type RuleInput = { id: string; kwargs?: Record<string, unknown> | null };
export type TextInput = { text: string; dimension?: string };
export type HybridConstraint = RuleInput | TextInput;

export interface HybridItem {
  response: string;
  instruction?: string;
  constraints: ReadonlyArray<HybridConstraint>;
  mode: JudgeMode | "both";
  compile?: boolean;
  cache?: CacheMode;
  pass_score?: number;
}

/**
 * What judging answers is the API's own verdict type (@iopo/common, inferred from the wire schema):
 * one verdict per mode, each result a rule's or the LLM's. `followed_all` is true only if every
 * constraint passed (an errored one makes it false); `errors` counts constraints whose grader failed.
 */
type ConstraintVerdict = JudgeVerdict["results"][number];

export const isTextConstraint = (c: HybridConstraint): c is TextInput =>
  typeof (c as TextInput).text === "string" && (c as RuleInput).id === undefined;

/**
 * Validates the `{id, kwargs}` constraints (JudgeInputError with paths `[...pathPrefix, index, ...]`
 * in the item's own numbering), before anything is sent to a model.
 */
export function validateRuleConstraints(
  constraints: ReadonlyArray<HybridConstraint>,
  pathPrefix: Array<string | number> = ["constraints"],
): void {
  const rules = constraints.map((c, index) => ({ c, index })).filter((x) => !isTextConstraint(x.c));
  if (rules.length === 0) return;
  try {
    judgeConstraints(
      "",
      rules.map((r) => ({ id: (r.c as RuleInput).id, kwargs: (r.c as RuleInput).kwargs ?? {} })),
      "strict",
    );
  } catch (error) {
    if (!(error instanceof JudgeInputError)) throw error;
    const issues: JudgeIssue[] = error.issues.map((issue) => {
      const [sub, ...rest] = issue.path;
      return { path: [...pathPrefix, typeof sub === "number" ? rules[sub]!.index : String(sub), ...rest], message: issue.message };
    });
    throw new JudgeInputError(issues);
  }
}

/** Does the item need the LLM (free-text constraints)? */
export const needsLlm = (item: Pick<HybridItem, "constraints">) => item.constraints.some(isTextConstraint);

/** One mode's verdict, or with mode "both" the strict and the loose one. */
export async function judgeHybrid(item: HybridItem & { mode: JudgeMode }, judge: LlmJudge): Promise<JudgeVerdict & { mode: JudgeMode }>;
export async function judgeHybrid(item: HybridItem, judge: LlmJudge): Promise<JudgeResponse>;
export async function judgeHybrid(item: HybridItem, judge: LlmJudge): Promise<JudgeResponse> {
  validateRuleConstraints(item.constraints);
  const modes: JudgeMode[] = item.mode === "both" ? ["strict", "loose"] : [item.mode];
  const texts = item.constraints
    .map((c, index) => ({ c, index }))
    .filter((x): x is { c: TextInput; index: number } => isTextConstraint(x.c));

  // compile first (when asked); constraints that compile are decided by their checker
  const compiled = new Map<number, Extract<CompileOutcome, { status: "compiled" }>>();
  const compileNotes = new Map<number, { status: "no-match" | "invalid" | "error"; reason: string }>();
  if (item.compile && texts.length > 0) {
    const outcomes = await compileFreeText(judge, { constraints: texts.map((t) => t.c), cache: item.cache });
    outcomes.forEach((o, j) => {
      const index = texts[j]!.index;
      if (o.status === "compiled") {
        try {
          judgeConstraints("", [{ id: o.id, kwargs: o.kwargs }], "strict"); // still valid under today's registry?
          compiled.set(index, o);
        } catch {
          compileNotes.set(index, { status: "invalid", reason: `the compiled checker ${o.id} no longer validates` });
        }
      } else compileNotes.set(index, { status: o.status, reason: o.reason });
    });
  }

  const forLlm = texts.filter((t) => !compiled.has(t.index));
  const llmVerdicts = new Map<number, LlmVerdict>();
  if (forLlm.length > 0) {
    const verdicts = await judgeFreeText(judge, {
      instruction: item.instruction,
      response: item.response,
      constraints: forLlm.map((t) => t.c),
      cache: item.cache,
      passScore: item.pass_score,
    });
    verdicts.forEach((v, j) => llmVerdicts.set(forLlm[j]!.index, v));
  }

  // registered checkers decide the rule constraints and the compiled ones, in one pass per mode
  // (so they share one analysis of the response)
  const checked = item.constraints.flatMap((c, index) => {
    if (!isTextConstraint(c)) return [{ index, id: c.id, kwargs: c.kwargs ?? {} }];
    const comp = compiled.get(index);
    return comp ? [{ index, id: comp.id, kwargs: comp.kwargs }] : [];
  });

  const verdictFor = (mode: JudgeMode): JudgeVerdict => {
    const byIndex = new Map<number, ConstraintResult>();
    if (checked.length > 0) {
      judgeConstraints(
        item.response,
        checked.map(({ id, kwargs }) => ({ id, kwargs })),
        mode,
      ).results.forEach((r, j) => byIndex.set(checked[j]!.index, r));
    }
    const results = item.constraints.map((c, index): ConstraintVerdict => {
      if (!isTextConstraint(c)) return { ...byIndex.get(index)!, decided_by: "rule", status: "ok" };
      const dimension = c.dimension !== undefined ? { dimension: c.dimension } : {};
      const comp = compiled.get(index);
      if (comp) {
        return {
          ...byIndex.get(index)!,
          decided_by: "compiled-rule",
          status: "ok",
          text: c.text,
          ...dimension,
          compiled: { id: comp.id, kwargs: comp.kwargs, model: comp.model, prompt_version: comp.prompt_version, cached: comp.cached },
        };
      }
      const note = compileNotes.get(index);
      return { text: c.text, ...dimension, decided_by: "llm", ...llmVerdicts.get(index)!, ...(note ? { compile: note } : {}) };
    });
    const errors = results.filter((r) => r.status === "error").length;
    return { followed_all: results.every((r) => r.passed === true), errors, results };
  };

  if (item.mode === "both") {
    const strict = verdictFor("strict");
    const loose = verdictFor("loose");
    return { mode: "both", followed_all: strict.followed_all, errors: strict.errors, strict, loose };
  }
  return { mode: modes[0]!, ...verdictFor(modes[0]!) };
}
