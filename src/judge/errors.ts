/** Errors for bad judge input (unknown instruction ids, invalid kwargs), with the offending fields. */

export interface JudgeIssue {
  /** Where the problem is, e.g. `[0, "kwargs", "num_words"]` for the first constraint's `num_words`. */
  path: Array<string | number>;
  message: string;
}

/** `[0, "kwargs", "num_words"]` -> `"[0].kwargs.num_words"`; `["constraints", 1, "id"]` -> `"constraints[1].id"`. */
export function formatIssuePath(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : out === "" ? part : `.${part}`;
  return out;
}

/**
 * Thrown when constraints cannot be judged as given. Callers facing users (the Worker) turn it
 * into a 422 listing `issues`; every issue names its field.
 */
export class JudgeInputError extends Error {
  override readonly name = "JudgeInputError";

  constructor(readonly issues: JudgeIssue[]) {
    super(issues.map((issue) => `${formatIssuePath(issue.path) || "(input)"}: ${issue.message}`).join("; "));
  }
}
