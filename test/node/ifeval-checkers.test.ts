/**
 * Each IFEval checker at its decision boundaries (N-1, N, N+1), on empty, unicode and markdown
 * input, written from the reference's semantics (docs/judge.md), plus kwargs validation, the
 * instruction texts and the loose variants.
 */
import { describe, expect, it } from "vitest";
import {
  IFEVAL_INSTRUCTION_IDS,
  JudgeInputError,
  describeConstraint,
  judgeConstraints,
  kwargsJsonSchema,
  listCheckers,
  looseVariants,
  type JudgeMode,
} from "../../src/judge/index.ts";
import { ONE_OF_EACH } from "./helpers/constraints.ts";

function judge(id: string, kwargs: unknown, response: string, mode: JudgeMode = "strict") {
  return judgeConstraints(response, [{ id, kwargs }], mode).results[0]!;
}

function passes(id: string, kwargs: unknown, response: string, mode: JudgeMode = "strict"): boolean {
  return judge(id, kwargs, response, mode).passed;
}

/** Pass/fail of `less than N` and `at least N` for N = count-1, count, count+1. */
function relationBoundaries(check: (relation: string, n: number) => boolean, count: number) {
  return {
    lessThan: [count - 1, count, count + 1].map((n) => check("less than", n)),
    atLeast: [count - 1, count, count + 1].map((n) => check("at least", n)),
  };
}
const AT_BOUNDARY = { lessThan: [false, false, true], atLeast: [true, true, false] };

describe("blank responses", () => {
  it("fail every instruction, strict and loose, even ones that would hold vacuously", () => {
    for (const mode of ["strict", "loose"] as const) {
      for (const response of ["", "   \n\t "]) {
        expect(passes("punctuation:no_comma", {}, response, mode)).toBe(false);
        expect(judge("punctuation:no_comma", {}, response, mode).evidence).toEqual({ blank_response: true });
        expect(passes("length_constraints:number_words", { num_words: 5, relation: "less than" }, response, mode)).toBe(false);
      }
    }
  });
});

describe("keywords", () => {
  it("existence: every keyword as a case-insensitive substring, taken literally", () => {
    const kw = (keywords: string[], text: string) => passes("keywords:existence", { keywords }, text);
    expect(kw(["world", "HELLO"], "Hello, World!")).toBe(true);
    expect(kw(["worlds"], "Hello, World!")).toBe(false);
    expect(kw(["low"], "Hello, World!")).toBe(false);
    expect(kw(["wor"], "Hello, World!")).toBe(true); // no word boundary
    expect(kw(["a.c"], "abc")).toBe(false); // literal, not a regex
    expect(kw(["a.c"], "x a.c y")).toBe(true);
    expect(kw(["(unclosed"], "an (unclosed bracket")).toBe(true);
    expect(kw(["straße"], "STRASSE")).toBe(false);
    expect(kw(["İstanbul"], "istanbul")).toBe(true); // Python compares simple lowercase forms
    expect(kw(["σοφία"], "ΣΟΦΊΑ")).toBe(true);
    expect(judge("keywords:existence", { keywords: ["a", "zz"] }, "abc").evidence).toEqual({
      missing: ["zz"],
      found: ["a"],
      spans: [[0, 1]],
    });
  });

  it("frequency: non-overlapping case-insensitive occurrences vs the target", () => {
    const text = "The cat and the hat. THE END";
    const check = (relation: string, frequency: number) => passes("keywords:frequency", { keyword: "the", frequency, relation }, text);
    expect(relationBoundaries(check, 3)).toEqual(AT_BOUNDARY);
    expect(judge("keywords:frequency", { keyword: "aa", frequency: 1, relation: "at least" }, "aaa").evidence).toMatchObject({
      occurrences: 1,
    });
    expect(judge("keywords:frequency", { keyword: " the ", frequency: 1, relation: "at least" }, text).evidence).toMatchObject({
      keyword: "the",
      occurrences: 3,
    });
  });

  it("forbidden_words: whole words only, case-insensitive, literal", () => {
    const ok = (words: string[], text: string) => passes("keywords:forbidden_words", { forbidden_words: words }, text);
    expect(ok(["cat"], "The cat sat.")).toBe(false);
    expect(ok(["cat"], "CAT!")).toBe(false);
    expect(ok(["cat"], "concatenate cats")).toBe(true);
    expect(ok(["cat"], "cat_like")).toBe(true); // "_" is a word character
    expect(ok(["c.t"], "cat")).toBe(true);
    expect(ok(["café"], "un CAFÉ noir")).toBe(false);
    expect(ok(["über"], "Überall")).toBe(true);
    expect(judge("keywords:forbidden_words", { forbidden_words: ["a", "b", "a"] }, "a b c").evidence).toEqual({
      found: ["a", "b"],
      spans: [
        [0, 1],
        [2, 3],
      ],
    });
  });

  it("letter_frequency: occurrences in the lower-cased text; a non-letter counts as given", () => {
    const check = (relation: string, n: number) =>
      passes("keywords:letter_frequency", { letter: "L", let_frequency: n, let_relation: relation }, "Hello, LOL");
    expect(relationBoundaries(check, 4)).toEqual(AT_BOUNDARY);
    expect(judge("keywords:letter_frequency", { letter: "#", let_frequency: 2, let_relation: "at least" }, "a#b#").evidence).toMatchObject({
      occurrences: 2,
    });
    expect(judge("keywords:letter_frequency", { letter: "é", let_frequency: 1, let_relation: "at least" }, "ÉTÉ").evidence).toMatchObject({
      occurrences: 2,
    });
  });
});

describe("language", () => {
  it("response_language: langdetect (seed 0) must report the language", () => {
    const spanish = "Hoy es un día muy bonito y vamos a caminar por el parque con nuestros amigos.";
    expect(passes("language:response_language", { language: "es" }, spanish)).toBe(true);
    expect(passes("language:response_language", { language: "en" }, spanish)).toBe(false);
    expect(judge("language:response_language", { language: "en" }, spanish).evidence).toEqual({ detected_language: "es", target: "en" });
  });

  it("response_language: a text without letters langdetect knows counts as followed", () => {
    const result = judge("language:response_language", { language: "hi" }, "12345 !!! ???");
    expect(result.passed).toBe(true);
    expect(result.evidence).toMatchObject({ detected_language: null, detection_error: "no features in text" });
  });
});

describe("length constraints", () => {
  it("number_words: runs of Unicode word characters", () => {
    const text = "**One** two, three-four _five_ naïve 東京 42";
    const check = (relation: string, n: number) => passes("length_constraints:number_words", { num_words: n, relation }, text);
    // One, two, three, four, _five_, naïve, 東京, 42
    expect(relationBoundaries(check, 8)).toEqual(AT_BOUNDARY);
    // Python's \w does not cover Devanagari vowel signs, so "हिंदी" is two words for the reference.
    expect(judge("length_constraints:number_words", { num_words: 1, relation: "at least" }, "हिंदी").evidence).toMatchObject({ words: 2 });
  });

  it("number_sentences: Punkt, which knows abbreviations and initials", () => {
    const text = "Mr. Smith met J. R. Tolkien at 5 p.m. yesterday. They talked! Did they eat? Yes.";
    const check = (relation: string, n: number) => passes("length_constraints:number_sentences", { num_sentences: n, relation }, text);
    expect(relationBoundaries(check, 4)).toEqual(AT_BOUNDARY);
  });

  it("number_paragraphs: split on *** (one optional whitespace each side); count must be equal", () => {
    const check = (n: number, text: string) => passes("length_constraints:number_paragraphs", { num_paragraphs: n }, text);
    const three = "First.\n***\nSecond.\n***\nThird.";
    expect([2, 3, 4].map((n) => check(n, three))).toEqual([false, true, false]);
    expect(check(2, "***\nOne.\n***\nTwo.\n***")).toBe(true); // empty first/last parts are ignored
    expect(check(2, "One.\n***\n\n***\nTwo.")).toBe(false); // an empty middle part fails
    expect(judge("length_constraints:number_paragraphs", { num_paragraphs: 2 }, "One.\n***\n \n***\nTwo.").evidence).toMatchObject({
      empty_paragraph_at: 2,
    });
  });

  it("nth_paragraph_first_word: count of non-blank paragraphs and the nth one's first word", () => {
    const kwargs = (n: number) => ({ num_paragraphs: n, nth_paragraph: 2, first_word: "World" });
    const text = 'Hello there.\n\n"World, is big."\n\nBye.';
    expect([2, 3, 4].map((n) => passes("length_constraints:nth_paragraph_first_word", kwargs(n), text))).toEqual([false, true, false]);
    expect(passes("length_constraints:nth_paragraph_first_word", kwargs(3), "Hello.\n\nWorlds apart.\n\nBye.")).toBe(false);
    expect(passes("length_constraints:nth_paragraph_first_word", kwargs(3), "Hello.\n\n'world' here.\n\nBye.")).toBe(true);
  });

  it("nth_paragraph_first_word: keeps the reference's quirk of indexing the unfiltered parts", () => {
    // Parts: ["", "First para", "Second para"]: 2 non-blank paragraphs, but paragraph 1 is the empty part.
    const result = judge(
      "length_constraints:nth_paragraph_first_word",
      { num_paragraphs: 2, nth_paragraph: 1, first_word: "first" },
      "\n\nFirst para\n\nSecond para",
    );
    expect(result.passed).toBe(false);
    expect(result.evidence).toMatchObject({ paragraphs: 2, first_word: null });
  });
});

describe("detectable content", () => {
  it("number_placeholders: [..] on one line, at least N", () => {
    const text = "Dear [name], at [address]\n[not\nclosed] and [[nested]";
    const check = (n: number) => passes("detectable_content:number_placeholders", { num_placeholders: n }, text);
    expect([2, 3, 4].map(check)).toEqual([true, true, false]);
  });

  it("postscript: the marker anywhere in the lower-cased text", () => {
    const ps = (marker: string, text: string) => passes("detectable_content:postscript", { postscript_marker: marker }, text);
    expect(ps("P.S.", "Hi.\nP.S. Bye")).toBe(true);
    expect(ps("P.S.", "Hi. p. s. bye")).toBe(true); // one optional whitespace after the inner period
    expect(ps("P.S.", "Hi. PS bye")).toBe(false);
    expect(ps("P.S.", "Hi. P.  S. bye")).toBe(false);
    expect(ps("P.P.S", "Hi. P. P. S more")).toBe(true);
    expect(ps("P.P.S", "Hi. P.S. only")).toBe(false);
    expect(ps("Note:", "text NOTE: here")).toBe(true);
    expect(ps("P*S", "text PS")).toBe(false); // other markers are literal
  });
});

describe("detectable format", () => {
  it("number_bullet_lists: '* ' (not '**') and '-' line starts, exactly N", () => {
    const text = "Intro\n* one\n  * two\n- three\n**bold** line\n*\nnext";
    // "* one", "  * two", "- three", and "*" whose [^*] is the newline; "**bold**" is not a bullet.
    const check = (n: number) => passes("detectable_format:number_bullet_lists", { num_bullets: n }, text);
    expect([3, 4, 5].map(check)).toEqual([false, true, false]);
    expect(judge("detectable_format:number_bullet_lists", { num_bullets: 2 }, "\n\n  * a\n\n-b").evidence).toMatchObject({ bullets: 2 });
  });

  it("constrained_response: one of the three exact sentences", () => {
    expect(passes("detectable_format:constrained_response", {}, "Well... My answer is maybe. Sorry")).toBe(true);
    expect(passes("detectable_format:constrained_response", {}, "my answer is yes.")).toBe(false);
    expect(passes("detectable_format:constrained_response", {}, "My answer is yes")).toBe(false);
  });

  it("number_highlighted_sections: non-blank *x* and **x** spans", () => {
    const text = "*one* and **two** and * * and *three\nfour*";
    // "*one*", "**" (blank), "**" (blank), "* *" (blank) and the double "**two**"
    const check = (n: number) => passes("detectable_format:number_highlighted_sections", { num_highlights: n }, text);
    expect([1, 2, 3].map(check)).toEqual([true, true, false]);
  });

  it("multiple_sections: literal, case-sensitive splitter followed by a number", () => {
    const text = "Section 1\nIntro\nSECTION 2\nBody\nSection3\nEnd";
    const check = (splitter: string, n: number) =>
      passes("detectable_format:multiple_sections", { section_spliter: splitter, num_sections: n }, text);
    expect([1, 2, 3].map((n) => check("Section", n))).toEqual([true, true, false]);
    expect(check("SECTION", 1)).toBe(true);
    expect(check("SECTION", 2)).toBe(false);
    expect(check("Sec.ion", 1)).toBe(false); // literal
  });

  it("json_format: the (optionally fenced) text parses as Python's json.loads does", () => {
    const json = (text: string) => passes("detectable_format:json_format", {}, text);
    expect(json('{"a": [1, 2.5, null, true]}')).toBe(true);
    expect(json('```json\n{"a": 1}\n```')).toBe(true);
    expect(json('```\n["x"]\n```')).toBe(true);
    expect(json("{a: 1}")).toBe(false);
    expect(json('{"a": 1} trailing')).toBe(false);
    expect(json("[NaN, Infinity, -Infinity]")).toBe(true); // Python accepts these constants
    expect(json("[NaN.5]")).toBe(false);
    expect(json('"NaN"')).toBe(true);
  });

  it("title: <<...>> on one line with non-blank content", () => {
    expect(passes("detectable_format:title", {}, "<<My Title>>\nText")).toBe(true);
    expect(passes("detectable_format:title", {}, "<<  >>\nText")).toBe(false);
    expect(passes("detectable_format:title", {}, "<<My\nTitle>>")).toBe(false);
    expect(judge("detectable_format:title", {}, "a <<b>> c >> d").evidence).toEqual({ title: "<<b>> c >>" });
  });
});

describe("combination", () => {
  it("two_responses: exactly two different non-blank parts around ******", () => {
    const two = (text: string) => passes("combination:two_responses", {}, text);
    expect(two("Answer A\n******\nAnswer B")).toBe(true);
    expect(two("Same\n******\nSame ")).toBe(false);
    expect(two("******\nA\n******\nB\n******")).toBe(true);
    expect(two("A\n******\n\n******\nB")).toBe(false);
    expect(two("A\n******\nB\n******\nC")).toBe(false);
  });

  it("repeat_prompt: starts with the prompt, case-insensitive, after stripping", () => {
    expect(passes("combination:repeat_prompt", { prompt_to_repeat: " Write a poem. " }, "  WRITE A POEM. Roses are red.")).toBe(true);
    expect(passes("combination:repeat_prompt", { prompt_to_repeat: "Write a poem." }, "Sure! Write a poem.")).toBe(false);
  });
});

describe("start / end", () => {
  it("end_checker: ends with the phrase, ignoring case and surrounding double quotes", () => {
    const end = (text: string) => passes("startend:end_checker", { end_phrase: "Any other questions?" }, text);
    expect(end('"Here you go. any other QUESTIONS?"\n')).toBe(true);
    expect(end("Any other questions? Bye")).toBe(false);
  });

  it("quotation: stripped text longer than one character, wrapped in double quotes", () => {
    expect(passes("startend:quotation", {}, ' "quoted" ')).toBe(true);
    expect(passes("startend:quotation", {}, '""')).toBe(true);
    expect(passes("startend:quotation", {}, '"')).toBe(false);
    expect(passes("startend:quotation", {}, "“curly”")).toBe(false);
  });
});

describe("change case", () => {
  it("capital_word_frequency: all-capital nltk.word_tokenize tokens", () => {
    // Tokens: I, 'M, SO, HAPPY, ,, said, NASA, ., -> upper: I, 'M, SO, HAPPY, NASA
    const text = "I'M SO HAPPY, said NASA.";
    const check = (relation: string, n: number) =>
      passes("change_case:capital_word_frequency", { capital_frequency: n, capital_relation: relation }, text);
    expect(relationBoundaries(check, 5)).toEqual(AT_BOUNDARY);
  });

  it("english_capital: whole text upper case and detected as English", () => {
    expect(passes("change_case:english_capital", {}, "THIS IS A SHORT ENGLISH ANSWER, WRITTEN IN CAPITAL LETTERS ONLY.")).toBe(true);
    expect(passes("change_case:english_capital", {}, "THIS IS A SHORT ENGLISH ANSWER, written IN CAPITAL LETTERS.")).toBe(false);
    expect(passes("change_case:english_capital", {}, "ESTO ES UNA RESPUESTA EN ESPAÑOL, ESCRITA CON LETRAS MAYÚSCULAS.")).toBe(false);
    expect(passes("change_case:english_capital", {}, "12345")).toBe(false); // no cased character
  });

  it("english_lowercase: whole text lower case and detected as English", () => {
    expect(passes("change_case:english_lowercase", {}, "this is a short english answer, written in lowercase letters only.")).toBe(true);
    expect(passes("change_case:english_lowercase", {}, "this is a short english answer, written in Lowercase.")).toBe(false);
    const result = judge("change_case:english_lowercase", {}, "ɐɐɐ ɐɐ"); // lower case, no letters langdetect knows
    expect(result).toMatchObject({ passed: true, evidence: { all_lower: true, detected_language: null } });
  });
});

describe("punctuation", () => {
  it("no_comma: only the ASCII comma counts", () => {
    expect(passes("punctuation:no_comma", {}, "No commas here.")).toBe(true);
    expect(passes("punctuation:no_comma", {}, "One, two")).toBe(false);
    expect(passes("punctuation:no_comma", {}, "全角，逗号")).toBe(true);
    expect(judge("punctuation:no_comma", {}, "a,b,c").evidence).toEqual({ commas: 2 });
  });
});

describe("loose mode", () => {
  it("tries the eight variants in the reference's order", () => {
    const variants = looseVariants("*Intro*\nBody, text\n*Outro*");
    expect(variants.map((v) => v.text)).toEqual([
      "*Intro*\nBody, text\n*Outro*",
      "Intro\nBody, text\nOutro",
      "Body, text\n*Outro*",
      "*Intro*\nBody, text",
      "Body, text",
      "Body, text\nOutro",
      "Intro\nBody, text",
      "Body, text",
    ]);
  });

  it("passes when a variant passes, naming the variant", () => {
    const response = "Sure, here it is:\nthe answer is fine\nCheers";
    expect(passes("punctuation:no_comma", {}, response, "strict")).toBe(false);
    const loose = judge("punctuation:no_comma", {}, response, "loose");
    expect(loose).toMatchObject({ passed: true, evidence: { commas: 0, variant: "without_first_line" } });
    expect(judge("punctuation:no_comma", {}, "a, b", "loose")).toMatchObject({
      passed: false,
      evidence: { commas: 1, variant: "response" },
    });
  });

  it("removes asterisks for markdown-wrapped answers", () => {
    expect(passes("startend:quotation", {}, '**"Quoted"**', "strict")).toBe(false);
    expect(passes("startend:quotation", {}, '**"Quoted"**', "loose")).toBe(true);
  });
});

describe("kwargs validation", () => {
  function issues(constraints: Array<{ id: string; kwargs?: unknown }>) {
    try {
      judgeConstraints("text", constraints, "strict", { pathPrefix: ["constraints"] });
    } catch (error) {
      expect(error).toBeInstanceOf(JudgeInputError);
      return (error as JudgeInputError).issues;
    }
    throw new Error("expected a JudgeInputError");
  }

  it("names unknown ids and every invalid field", () => {
    expect(
      issues([
        { id: "length_constraints:number_words", kwargs: { relation: "at most", num_words: -1 } },
        { id: "no:such" },
        { id: "keywords:letter_frequency", kwargs: { letter: "ab", let_frequency: 1, let_relation: "at least" } },
        { id: "punctuation:no_comma", kwargs: { extra: 1 } },
        { id: "length_constraints:nth_paragraph_first_word", kwargs: { num_paragraphs: 2, nth_paragraph: 3, first_word: "x" } },
      ]).map((issue) => issue.path.join(".")),
    ).toEqual([
      "constraints.0.kwargs.num_words",
      "constraints.0.kwargs.relation",
      "constraints.1.id",
      "constraints.2.kwargs.letter",
      "constraints.3.kwargs",
      "constraints.4.kwargs.nth_paragraph",
    ]);
  });

  it("rejects constraints that are not objects", () => {
    expect(issues([null as unknown as { id: string }])).toEqual([{ path: ["constraints", 0], message: "must be an object {id, kwargs}" }]);
  });

  it("says which kwargs are required and treats null as absent", () => {
    const [missing] = issues([{ id: "keywords:frequency", kwargs: { keyword: "x", frequency: null, relation: "at least" } }]);
    expect(missing).toEqual({ path: ["constraints", 0, "kwargs", "frequency"], message: "required (number)" });
    // IFBench-style rows carry every key, the unused ones null
    expect(
      judgeConstraints("a b", [{ id: "punctuation:no_comma", kwargs: { num_words: null, relation: null } }], "strict").followed_all,
    ).toBe(true);
    expect(judgeConstraints("a b", [{ id: "detectable_format:title" }], "strict").results[0]!.passed).toBe(false);
  });

  it("has a JSON Schema for every instruction's kwargs", () => {
    // IFEval's checkers come first, in IFEval's order; IFBench's follow (ifbench-checkers.test.ts)
    const checkers = listCheckers().filter((c) => c.family === "ifeval");
    expect(checkers.map((c) => c.id)).toEqual([...IFEVAL_INSTRUCTION_IDS]);
    expect(listCheckers().slice(0, IFEVAL_INSTRUCTION_IDS.length)).toEqual(checkers);
    expect(new Set(checkers.map((c) => c.category))).toEqual(
      new Set([
        "keywords",
        "language",
        "length_constraints",
        "detectable_content",
        "detectable_format",
        "combination",
        "startend",
        "change_case",
        "punctuation",
      ]),
    );
    expect(kwargsJsonSchema("length_constraints:number_words")).toMatchObject({
      type: "object",
      required: ["num_words", "relation"],
      additionalProperties: false,
      properties: { num_words: { type: "integer", minimum: 0 }, relation: { enum: ["less than", "at least"] } },
    });
    expect(kwargsJsonSchema("punctuation:no_comma")).toMatchObject({ type: "object", additionalProperties: false });
  });
});

describe("instruction texts", () => {
  it("render the reference's templates", () => {
    expect(describeConstraint("length_constraints:number_words", { num_words: 300, relation: "at least" })).toBe(
      "Answer with at least 300 words.",
    );
    expect(describeConstraint("keywords:existence", { keywords: ["zebra", "apple", "it's"] })).toBe(
      `Include keywords ['apple', "it's", 'zebra'] in the response.`,
    );
    expect(describeConstraint("language:response_language", { language: "kn" })).toBe(
      "Your ENTIRE response should be in Kannada language, no other language is allowed.",
    );
    expect(describeConstraint("detectable_format:constrained_response", {})).toBe(
      "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', 'My answer is maybe.')",
    );
    expect(describeConstraint("detectable_format:multiple_sections", { section_spliter: " SECTION ", num_sections: 2 })).toBe(
      "Your response must have 2 sections. Mark the beginning of each section with SECTION X, such as:\nSECTION 1\n[content of section 1]\nSECTION 2\n[content of section 2]",
    );
    for (const { id, kwargs } of ONE_OF_EACH) expect(describeConstraint(id, kwargs)).toMatch(/\w/);
  });
});
