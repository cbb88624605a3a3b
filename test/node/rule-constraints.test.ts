import { describe, expect, it } from "vitest";
import { JudgeInputError, type JudgeIssue } from "../../src/judge/index.ts";
import { type HybridConstraint, validateRuleConstraints } from "../../src/judge/llm/index.ts";

/**
 * validateRuleConstraints checks the `{id, kwargs}` constraints of a hybrid item against their
 * checkers' kwargs schemas, and numbers its problems in the item's own numbering (free-text
 * constraints included), before any model call.
 */

const issuesOf = (constraints: HybridConstraint[], pathPrefix?: Array<string | number>): JudgeIssue[] => {
  try {
    validateRuleConstraints(constraints, pathPrefix);
    return [];
  } catch (error) {
    if (error instanceof JudgeInputError) return error.issues;
    throw error;
  }
};

describe("validateRuleConstraints", () => {
  it("accepts known ids with valid kwargs, null or missing kwargs where none are required, and free text", () => {
    expect(
      issuesOf([
        { text: "be cheerful" },
        { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 5 } },
        { id: "punctuation:no_comma" },
        { id: "punctuation:no_comma", kwargs: null },
        { id: "change_case:english_lowercase", kwargs: {} },
      ]),
    ).toEqual([]);
    expect(issuesOf([])).toEqual([]);
    expect(issuesOf([{ text: "only free text" }])).toEqual([]);
  });

  it("rejects an unknown id, a missing required kwarg, a wrong type and an unknown kwarg, each at its own path", () => {
    const issues = issuesOf([
      { text: "x" },
      { id: "nope:nope" },
      { id: "length_constraints:number_words", kwargs: { relation: "at least" } },
      { text: "y" },
      { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: "five" } },
      { id: "punctuation:no_comma", kwargs: { surprise: 1 } },
    ]);
    const paths = issues.map((i) => i.path.join("."));
    expect(paths).toContain("constraints.1.id");
    expect(paths).toContain("constraints.2.kwargs.num_words");
    expect(paths).toContain("constraints.4.kwargs.num_words");
    expect(paths.some((p) => p.startsWith("constraints.5.kwargs"))).toBe(true);
    expect(paths.some((p) => p.startsWith("constraints.0") || p.startsWith("constraints.3"))).toBe(false);
    expect(issues.find((i) => i.path.join(".") === "constraints.5.kwargs")?.message ?? "").toMatch(/surprise/);
  });

  it("puts the caller's prefix before the index", () => {
    const [issue] = issuesOf([{ text: "x" }, { id: "nope:nope" }], ["items", 3, "constraints"]);
    expect(issue!.path).toEqual(["items", 3, "constraints", 1, "id"]);
  });
});
