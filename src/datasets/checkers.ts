import { JudgeInputError, formatIssuePath, parseKwargs } from "../judge/index.ts";

/**
 * Validation of a constraint's `checker` against the judge's registry: the id must be registered
 * and the kwargs must satisfy its schema. Returns a message naming the field, or null when valid.
 */
export function validateConstraintChecker(id: string, kwargs: Record<string, unknown>): string | null {
  try {
    parseKwargs(id, kwargs);
    return null;
  } catch (error) {
    if (error instanceof JudgeInputError) {
      return error.issues.map((issue) => `${formatIssuePath(issue.path) || "id"}: ${issue.message}`).join("; ");
    }
    throw error;
  }
}
