/**
 * LIMITS (@iopo/common) is where each of the API's caps is stated; the README tells readers the
 * same numbers in words, so this holds its statements to LIMITS: a cap changed in one place and
 * not the other fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LIMITS } from "@iopo/common";
import { describe, expect, it } from "vitest";

const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
const n = (value: number) => value.toLocaleString("en-US");

/** The second cell of the README table row whose first cell is `what`. */
function cell(what: string): string {
  const row = readme.split("\n").find((line) => line.startsWith(`| ${what} `));
  expect(row, what).toBeDefined();
  return row!.split("|")[2]!.trim();
}

describe("the README's limits", () => {
  it("state the judge's LIMITS in its limits table", () => {
    expect(cell("response")).toBe(`${n(LIMITS.responseChars)} characters`);
    expect(cell("instruction")).toBe(`${n(LIMITS.instructionChars)} characters`);
    expect(cell("constraints per item")).toBe(n(LIMITS.constraints));
    expect(cell("kwargs: a keyword, marker, separator or phrase (`keyword`, `end_phrase`, `sep`, ...)")).toBe(
      `${n(LIMITS.kwargs.phraseChars)} characters, not blank`,
    );
    expect(cell("kwargs: a passage (`prompt_to_repeat`, `reference_text`)")).toBe(`${n(LIMITS.kwargs.passageChars)} characters, not blank`);
    expect(cell("kwargs: a list (`keywords`, `forbidden_words`)")).toBe(`${n(LIMITS.kwargs.listItems)} items, none blank`);
    expect(cell("items per batch")).toBe(`${n(LIMITS.judgeItems)}, of which ${n(LIMITS.judgeLlmItems)} with free-text constraints`);
    expect(cell("work per request (one item, or a whole batch)")).toBe(`${n(LIMITS.work.maxWorkPerRequest)} character-checks`);
  });

  it("state the per-request bounds of the routes table", () => {
    expect(cell("`POST /v1/benchmarks/trace/score`")).toContain(`(≤ ${LIMITS.traceItems})`);
    expect(cell("`POST /v1/benchmarks/cfbench/score`")).toContain(`(≤ ${LIMITS.cfbenchItems};`);
    expect(cell("`POST /v1/datasets/{name}/records`")).toContain(`at most ${n(LIMITS.recordsPerRequest)} per request`);
    expect(cell("`GET /v1/datasets/{name}/rows`")).toContain(`(≤ ${LIMITS.rowsPage})`);
  });
});
