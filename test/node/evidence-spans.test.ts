/**
 * Checkers that match text say where, as [start, end) code-unit spans of the checked response, so
 * a page can highlight them without matching again; the verdicts are the reference's (the
 * conformance tests hold them).
 */
import { describe, expect, it } from "vitest";
import { judgeConstraints } from "../../src/judge/index.ts";
import { MAX_EVIDENCE_SPANS } from "../../src/judge/text/literal-search.ts";

function evidence(id: string, kwargs: unknown, response: string) {
  return judgeConstraints(response, [{ id, kwargs }], "strict").results[0]!.evidence as { spans: [number, number][] };
}
const texts = (response: string, spans: [number, number][]) => spans.map(([s, e]) => response.slice(s, e));

// an astral emoji before the matches: spans count UTF-16 code units, as the browser does
const RESPONSE = "🙂 The Lantern glowed; lanterns, LANTERN-light and a lantern.\nP.S. see [name] and [date]";

describe("evidence spans", () => {
  it("locate keywords, case-insensitively, in code units", () => {
    const { spans } = evidence("keywords:existence", { keywords: ["lantern", "glow", "absent"] }, RESPONSE);
    expect(texts(RESPONSE, spans)).toEqual(["Lantern", "glow", "lantern", "LANTERN", "lantern"]);
    expect(spans[0]![0]).toBe(RESPONSE.indexOf("Lantern"));
    const frequency = evidence("keywords:frequency", { keyword: "lantern", frequency: 2, relation: "at least" }, RESPONSE);
    expect(texts(RESPONSE, frequency.spans)).toEqual(["Lantern", "lantern", "LANTERN", "lantern"]);
  });

  it("locate forbidden words only where they stand as whole words", () => {
    const { spans } = evidence("keywords:forbidden_words", { forbidden_words: ["lantern", "glow"] }, RESPONSE);
    // "lanterns" and "glowed" are other words; "LANTERN-light" holds the word
    expect(texts(RESPONSE, spans)).toEqual(["Lantern", "LANTERN", "lantern"]);
    expect(evidence("keywords:forbidden_words", { forbidden_words: ["absent"] }, RESPONSE).spans).toEqual([]);
  });

  it("locate placeholders and the postscript marker", () => {
    const placeholders = evidence("detectable_content:number_placeholders", { num_placeholders: 3 }, RESPONSE);
    expect(texts(RESPONSE, placeholders.spans)).toEqual(["[name]", "[date]"]);
    const postscript = evidence("detectable_content:postscript", { postscript_marker: "P.S." }, RESPONSE);
    expect(texts(RESPONSE, postscript.spans)).toEqual(["P.S."]);
    expect(evidence("detectable_content:postscript", { postscript_marker: "P.P.S" }, RESPONSE).spans).toEqual([]);
  });

  it("locate highlighted sections, section markers and the wrapping quotes", () => {
    const text = '  "🙂 *One* and **two**, SECTION 1 first\nSECTION 2 second, Section 3 not"  ';
    const highlights = evidence("detectable_format:number_highlighted_sections", { num_highlights: 2 }, text);
    expect(texts(text, highlights.spans)).toEqual(["*One*", "**two**"]);
    const sections = evidence("detectable_format:multiple_sections", { section_spliter: "SECTION", num_sections: 2 }, text);
    expect(texts(text, sections.spans)).toEqual(["SECTION 1", "SECTION 2"]);
    const quotes = evidence("startend:quotation", {}, text);
    expect(quotes.spans).toEqual([
      [2, 3],
      [text.length - 3, text.length - 2],
    ]);
    expect(evidence("startend:quotation", {}, "no quotes").spans).toEqual([]);
  });

  it("are capped, while the counts stay whole", () => {
    const many = "lantern ".repeat(MAX_EVIDENCE_SPANS + 20);
    const result = judgeConstraints(
      many,
      [{ id: "keywords:frequency", kwargs: { keyword: "lantern", frequency: 110, relation: "at least" } }],
      "strict",
    ).results[0]!;
    expect(result.passed).toBe(true);
    expect((result.evidence as { occurrences: number }).occurrences).toBe(MAX_EVIDENCE_SPANS + 20);
    expect((result.evidence as { spans: unknown[] }).spans).toHaveLength(MAX_EVIDENCE_SPANS);
  });
});
