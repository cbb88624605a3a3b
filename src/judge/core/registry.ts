import { closest } from "@iopo/common";
import { z } from "zod";
import { JudgeInputError, type JudgeIssue } from "../errors.ts";
import { IFBENCH_CHECKERS } from "../ifbench/checkers.ts";
import { IFBENCH_INSTRUCTION_IDS } from "../ifbench/ids.ts";
import { IFEVAL_CHECKERS } from "../ifeval/checkers.ts";
import { IFEVAL_INSTRUCTION_IDS, type IfevalInstructionId } from "../ifeval/ids.ts";
import type { Checker, CheckerFamily, InstructionId } from "./checker.ts";

/** Every registered instruction id: IFEval's 25 (in IFEval's order), then IFBench's 58. */
export const INSTRUCTION_IDS: readonly InstructionId[] = [...IFEVAL_INSTRUCTION_IDS, ...IFBENCH_INSTRUCTION_IDS];

/** Every registered checker by instruction id (IFEval's and IFBench's). */
export const CHECKERS: { readonly [Id in InstructionId]: Checker } = { ...IFEVAL_CHECKERS, ...IFBENCH_CHECKERS };

export function isIfevalInstructionId(id: unknown): id is IfevalInstructionId {
  return typeof id === "string" && Object.hasOwn(IFEVAL_CHECKERS, id);
}

/** Whether `id` is a registered instruction id (IFEval or IFBench). */
export function isInstructionId(id: unknown): id is InstructionId {
  return typeof id === "string" && Object.hasOwn(CHECKERS, id);
}

/** The checker for `id`; throws JudgeInputError (path `[...path, "id"]`) for an unknown id. */
export function getChecker(id: string, path: Array<string | number> = []): Checker {
  if (!isInstructionId(id)) throw new JudgeInputError([unknownIdIssue(id, [...path, "id"])]);
  return CHECKERS[id];
}

/** An unknown id, with the registered ids nearest to it (all 83 in one message would hide them). */
function unknownIdIssue(id: unknown, path: Array<string | number>): JudgeIssue {
  const nearest = typeof id === "string" ? closest(id, INSTRUCTION_IDS, { count: 3 }) : [];
  const suggestion = nearest.length ? `; the closest are ${nearest.map((n) => JSON.stringify(n)).join(", ")}` : "";
  return {
    path,
    message: `unknown instruction id ${JSON.stringify(id)}${suggestion}; GET /v1/checkers lists all ${INSTRUCTION_IDS.length}`,
  };
}

/**
 * Validates raw kwargs (as they appear in IFEval data) for `id` and returns them typed.
 * `null` values count as absent (IFBench-style rows carry every key, unused ones null); unknown
 * keys with a value are rejected, as the reference's `build_description(**kwargs)` would be.
 * Issues are reported at `[...path, "kwargs", key]`.
 */
export function parseKwargs(id: string, raw: unknown, path: Array<string | number> = []): unknown {
  const result = parseCheckerKwargs(getChecker(id, path), raw, [...path, "kwargs"]);
  if (!result.ok) throw new JudgeInputError(result.issues);
  return result.kwargs;
}

function withoutNulls(raw: unknown): unknown {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) return raw;
  // Most kwargs have no null (IFEval's never do): keep them as they are, without copying.
  if (!Object.values(raw).includes(null)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null));
}

function parseCheckerKwargs(
  checker: Checker,
  raw: unknown,
  path: Array<string | number>,
): { ok: true; kwargs: unknown } | { ok: false; issues: JudgeIssue[] } {
  const result = checker.kwargsSchema.safeParse(withoutNulls(raw));
  if (result.success) return { ok: true, kwargs: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: [...path, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))],
      message: issueMessage(issue),
    })),
  };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `unknown kwargs ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) return `required (${issue.expected})`;
  return issue.message;
}

/**
 * Validates a list of `{id, kwargs}` constraints, collecting every problem (paths start with the
 * constraint's index, after `pathPrefix`). Returns the checkers and typed kwargs.
 */
export function validateConstraints(
  constraints: ReadonlyArray<{ id: string; kwargs?: unknown }>,
  pathPrefix: Array<string | number> = [],
): Array<{ checker: Checker; kwargs: unknown }> {
  const issues: JudgeIssue[] = [];
  const parsed: Array<{ checker: Checker; kwargs: unknown }> = [];
  constraints.forEach((constraint, index) => {
    const path = [...pathPrefix, index];
    if (typeof constraint !== "object" || constraint === null) {
      issues.push({ path, message: "must be an object {id, kwargs}" });
      return;
    }
    if (!isInstructionId(constraint.id)) {
      issues.push(unknownIdIssue(constraint.id, [...path, "id"]));
      return;
    }
    const checker = CHECKERS[constraint.id];
    const result = parseCheckerKwargs(checker, constraint.kwargs, [...path, "kwargs"]);
    if (result.ok) parsed.push({ checker, kwargs: result.kwargs });
    else issues.push(...result.issues);
  });
  if (issues.length > 0) throw new JudgeInputError(issues);
  return parsed;
}

/** The instruction text for a constraint, as the reference renders it. */
export function describeConstraint(id: string, kwargs: unknown): string {
  const checker = getChecker(id);
  return checker.describe(parseKwargs(id, kwargs));
}

const jsonSchemaCache = new Map<InstructionId, Record<string, unknown>>();

/** JSON Schema (draft 2020-12) of the kwargs of `id`. */
export function kwargsJsonSchema(id: InstructionId): Record<string, unknown> {
  let schema = jsonSchemaCache.get(id);
  if (!schema) {
    schema = z.toJSONSchema(CHECKERS[id].kwargsSchema) as Record<string, unknown>;
    jsonSchemaCache.set(id, schema);
  }
  return schema;
}

export interface CheckerInfo {
  id: InstructionId;
  family: CheckerFamily;
  category: string;
  kwargs_schema: Record<string, unknown>;
}

/**
 * All checkers with their kwargs JSON Schemas: IFEval's (family "ifeval", in IFEval's registry
 * order), then IFBench's (family "ifbench", in IFBench's registry order).
 */
export function listCheckers(): CheckerInfo[] {
  return INSTRUCTION_IDS.map((id) => ({
    id,
    family: CHECKERS[id].family,
    category: CHECKERS[id].category,
    kwargs_schema: kwargsJsonSchema(id),
  }));
}
