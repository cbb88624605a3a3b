import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { convertLine } from "../../src/datasets/importers.ts";
import { describeConstraint } from "../../src/judge/index.ts";
import { ADMIN, call, expectProblem, postJson, textOf } from "./helpers.ts";

type Verdict = { followed_all: boolean; results: { id: string; kind: string; passed: boolean; evidence: Record<string, unknown> }[] };

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

describe("POST /v1/judge", () => {
  it("decides each constraint with evidence", async () => {
    const res = await postJson("/v1/judge", {
      response: `${words(299)}, the end`,
      constraints: [
        { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 300 } },
        { id: "punctuation:no_comma" },
        { id: "keywords:existence", kwargs: { keywords: ["word42", "the end"] } },
      ],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Verdict & { mode: string };
    expect(body.mode).toBe("strict");
    expect(body.followed_all).toBe(false);
    expect(body.results.map((r) => [r.id, r.kind, r.passed])).toEqual([
      ["length_constraints:number_words", "rule", true],
      ["punctuation:no_comma", "rule", false],
      ["keywords:existence", "rule", true],
    ]);
    expect(body.results[0]!.evidence).toMatchObject({ relation: "at least" });
    expect(JSON.stringify(body.results[0]!.evidence)).toContain("301");
  });

  it("judges strict and loose together", async () => {
    const res = await postJson("/v1/judge", {
      response: "Sure, here it is:\n<<My Title>>\nno commas here",
      constraints: [{ id: "punctuation:no_comma" }],
      mode: "both",
    });
    const body = (await res.json()) as { mode: string; strict: Verdict; loose: Verdict };
    expect(body.mode).toBe("both");
    expect(body.strict.followed_all).toBe(false);
    // loose drops the first line, which holds the only comma
    expect(body.loose.followed_all).toBe(true);
  });

  it("422s unknown checkers and invalid kwargs, naming the field", async () => {
    const unknown = await expectProblem(await postJson("/v1/judge", { response: "x", constraints: [{ id: "nope:nope" }] }), 422);
    expect(unknown.errors![0]!.field).toBe("body.constraints.0.id");
    // a typo gets the nearest ids and where the whole list is, not all 83 ids in one message
    const typo = await expectProblem(await postJson("/v1/judge", { response: "x", constraints: [{ id: "punctuation:no_comas" }] }), 422);
    expect(typo.errors![0]!.message).toMatch(
      /^unknown instruction id "punctuation:no_comas"; the closest are "punctuation:no_comma", "[^"]+", "[^"]+"; GET \/v1\/checkers lists all 83$/,
    );
    const bad = await expectProblem(
      await postJson("/v1/judge", {
        response: "x",
        constraints: [{ id: "punctuation:no_comma" }, { id: "length_constraints:number_words", kwargs: { relation: "at least" } }],
      }),
      422,
    );
    expect(bad.errors!.map((e) => e.field)).toContain("body.constraints.1.kwargs.num_words");
    await expectProblem(await postJson("/v1/judge", { response: "x", constraints: [] }), 422);
    await expectProblem(
      await postJson("/v1/judge", { response: "x", constraints: [{ id: "punctuation:no_comma" }], mode: "lenient" }),
      422,
    );
    await expectProblem(await postJson("/v1/judge", "{", {}), 400);
  });

  it("enforces the documented limits", async () => {
    const long = await expectProblem(
      await postJson("/v1/judge", { response: "a".repeat(200_001), constraints: [{ id: "punctuation:no_comma" }] }),
      422,
    );
    expect(long.errors![0]!.field).toBe("body.response");
    const many = Array.from({ length: 65 }, () => ({ id: "punctuation:no_comma" }));
    const tooMany = await expectProblem(await postJson("/v1/judge", { response: "a", constraints: many }), 422);
    expect(tooMany.errors![0]!.field).toBe("body.constraints");
  });

  it("answers adversarial input quickly and without a 500", async () => {
    const res = await postJson("/v1/judge", {
      response: `${"[".repeat(40_000)}\uD800${"*".repeat(40_000)}`,
      constraints: [
        { id: "detectable_content:number_placeholders", kwargs: { num_placeholders: 1 } },
        { id: "detectable_format:number_highlighted_sections", kwargs: { num_highlights: 1 } },
        { id: "detectable_format:json_format" },
        { id: "length_constraints:number_sentences", kwargs: { relation: "less than", num_sentences: 3 } },
        { id: "language:response_language", kwargs: { language: "en" } },
      ],
      mode: "strict",
    });
    expect(res.status).toBe(200);
  });
});

describe("bounded cost: caps on kwargs and on a request's work", () => {
  const judge = (constraints: unknown[], response = "Some text.", mode = "strict") =>
    postJson("/v1/judge", { response, constraints, mode });
  const onlyError = async (res: Response, status: number) => {
    const body = await expectProblem(res, status);
    return body.errors!.map((e) => `${e.field}: ${e.message}`).join("\n");
  };

  it("caps every list in kwargs (IFEval's and IFBench's)", async () => {
    const words65 = Array.from({ length: 65 }, (_, i) => `w${i}`);
    expect(await onlyError(await judge([{ id: "keywords:forbidden_words", kwargs: { forbidden_words: words65 } }]), 422)).toMatch(
      /body\.constraints\.0\.kwargs\.forbidden_words: at most 64 items/,
    );
    expect(await onlyError(await judge([{ id: "keywords:existence", kwargs: { keywords: words65 } }]), 422)).toMatch(
      /kwargs\.keywords: at most 64 items/,
    );
    const ok = await judge([{ id: "keywords:forbidden_words", kwargs: { forbidden_words: words65.slice(0, 64) } }]);
    expect(ok.status).toBe(200);
  });

  it("caps every string in kwargs, so evidence cannot echo megabytes", async () => {
    const phrase = "x".repeat(1001);
    const passage = "y ".repeat(10_001);
    const cases: [unknown, RegExp][] = [
      [{ id: "startend:end_checker", kwargs: { end_phrase: phrase } }, /kwargs\.end_phrase: at most 1000 characters/],
      [{ id: "keywords:frequency", kwargs: { keyword: phrase, frequency: 1, relation: "at least" } }, /kwargs\.keyword: at most 1000/],
      [{ id: "format:list", kwargs: { sep: phrase } }, /kwargs\.sep: at most 1000/],
      [
        { id: "count:keywords_multiple", kwargs: { keyword1: phrase, keyword2: "b", keyword3: "c", keyword4: "d", keyword5: "e" } },
        /kwargs\.keyword1: at most 1000/,
      ],
      [{ id: "ratio:overlap", kwargs: { reference_text: passage, percentage: 10 } }, /kwargs\.reference_text: at most 20000 characters/],
      [{ id: "combination:repeat_prompt", kwargs: { prompt_to_repeat: passage } }, /kwargs\.prompt_to_repeat: at most 20000/],
      [
        { id: "keywords:letter_frequency", kwargs: { letter: phrase, let_frequency: 1, let_relation: "at least" } },
        /kwargs\.letter: must be exactly one character/,
      ],
    ];
    for (const [constraint, message] of cases) expect(await onlyError(await judge([constraint]), 422)).toMatch(message);
  });

  it("refuses blank strings in kwargs, which would pass every response", async () => {
    const cases: [unknown, string][] = [
      [{ id: "keywords:existence", kwargs: { keywords: [""] } }, "body.constraints.0.kwargs.keywords.0: must not be blank"],
      [{ id: "startend:end_checker", kwargs: { end_phrase: "" } }, "body.constraints.0.kwargs.end_phrase: must not be blank"],
      [{ id: "format:list", kwargs: { sep: " " } }, "body.constraints.0.kwargs.sep: must not be blank"],
      [
        { id: "keywords:forbidden_words", kwargs: { forbidden_words: ["ok", "\t"] } },
        "body.constraints.0.kwargs.forbidden_words.1: must not be blank",
      ],
    ];
    for (const [constraint, message] of cases) expect(await onlyError(await judge([constraint]), 422)).toBe(message);
  });

  it("caps constraints × response length (422 naming the limit)", async () => {
    const costly = Array.from({ length: 10 }, () => ({ id: "count:pronouns", kwargs: { N: 1 } }));
    const message = await onlyError(await judge(costly, "word ".repeat(40_000), "both"), 422);
    expect(message).toMatch(
      /^body: this judgement costs \d+ character-checks, over the limit of 1200000 per request \(max_work_per_request/,
    );
    // the same constraints on a short response, or fewer on a long one, are fine
    expect((await judge(costly, "word ".repeat(1000), "both")).status).toBe(200);
    expect((await judge(costly.slice(0, 1), "word ".repeat(40_000), "strict")).status).toBe(200);
  });

  it("caps a batch's total work (413 naming the limit), each item being within its own", async () => {
    const item = {
      response: "word ".repeat(2000),
      constraints: [{ id: "count:pronouns", kwargs: { N: 1 } }, { id: "punctuation:no_comma" }],
      mode: "both",
    };
    const items = Array.from({ length: 150 }, () => item);
    const body = await expectProblem(await postJson("/v1/judge/batch", { items }), 413);
    expect(body.detail).toMatch(/over the limit of 1200000 per request .*Split the batch/);
    expect(body.errors![0]).toEqual({ field: "body", message: "at most 1200000 character-checks per request" });
    const ndjson = await call("/v1/judge/batch", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: items.map((i) => JSON.stringify(i)).join("\n"),
    });
    await expectProblem(ndjson, 413);
    const fits = await postJson("/v1/judge/batch", { items: items.slice(0, 2) });
    expect(fits.status).toBe(200);
  });

  it("checks a free-text constraint's dimension as ingest does (one validation for both)", async () => {
    const text = (dimension: string) => ({ response: "Hi.", constraints: [{ text: "Be brief.", dimension }] });
    const problem = await expectProblem(await postJson("/v1/judge", text("Totally Fake Dimension")), 422);
    expect(problem.errors).toEqual([
      { field: "body.constraints.0.dimension", message: 'unknown TRACE dimension "Totally Fake Dimension" (GET /v1/taxonomy lists them)' },
    ]);
    const batch = (await (await postJson("/v1/judge/batch", { items: [text("Totally Fake Dimension")] })).json()) as {
      results: { index: number; error?: { status: number; errors: { field: string }[] } }[];
    };
    expect(batch.results[0]!.error).toMatchObject({ status: 422, errors: [{ field: "item.constraints.0.dimension" }] });
  });

  it("publishes the limits in GET /v1/checkers and in each kwargs schema", async () => {
    const body = (await (await call("/v1/checkers")).json()) as {
      limits: Record<string, unknown>;
      checkers: { id: string; kwargs_schema: { properties?: Record<string, { maxLength?: number; maxItems?: number }> } }[];
    };
    expect(body.limits).toMatchObject({
      max_work_per_request: 1_200_000,
      kwargs_phrase_chars: 1000,
      kwargs_passage_chars: 20_000,
      kwargs_list_items: 64,
      response_chars: 200_000,
    });
    expect(body.limits.work_formula).toMatch(/response characters/);
    const props = (id: string) => body.checkers.find((c) => c.id === id)!.kwargs_schema.properties!;
    expect(props("keywords:forbidden_words").forbidden_words!.maxItems).toBe(64);
    expect(props("startend:end_checker").end_phrase!.maxLength).toBe(1000);
    expect(props("ratio:overlap").reference_text!.maxLength).toBe(20_000);
  });
});

describe("POST /v1/judge/batch", () => {
  const good = { response: "hello world", constraints: [{ id: "punctuation:no_comma" }] };
  const failing = { response: "hello, world", constraints: [{ id: "punctuation:no_comma" }] };

  it("answers a JSON batch in order, with an error entry for a bad item", async () => {
    const res = await postJson("/v1/judge/batch", { items: [good, { response: 1 }, failing] });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Record<string, unknown>[] };
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(results[0]).toMatchObject({ followed_all: true });
    expect(results[1]).toMatchObject({ error: { status: 422 } });
    expect((results[1]!.error as { errors: { field: string }[] }).errors[0]!.field).toBe("item.response");
    expect(results[2]).toMatchObject({ followed_all: false });
  });

  it("streams NDJSON in and out, line for line", async () => {
    const body = [
      JSON.stringify(good),
      "",
      "{broken",
      JSON.stringify({ ...failing, constraints: [{ id: "x:y" }] }),
      JSON.stringify(failing),
    ].join("\n");
    const res = await call("/v1/judge/batch", { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = (await textOf(res))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.line)).toEqual([1, 3, 4, 5]);
    expect(lines[0]).toMatchObject({ followed_all: true });
    expect(lines[1]).toMatchObject({ error: { status: 400 } });
    expect(lines[2]).toMatchObject({ error: { status: 422 } });
    expect(lines[3]).toMatchObject({ followed_all: false });
  });

  it("answers a bad item with the same entry as JSON and as NDJSON", async () => {
    const items = [
      good,
      { response: 1, constraints: [] },
      { response: "x", constraints: [{ id: "punctuation:no_comas" }] },
      { response: "x", constraints: [{ id: "length_constraints:number_words", kwargs: { relation: "at least" } }] },
      { response: "x", constraints: [{ text: "Be brief.", dimension: "No Such Dimension" }] },
      failing,
    ];
    const json = (await (await postJson("/v1/judge/batch", { items })).json()) as { results: Record<string, unknown>[] };
    const ndjson = await call("/v1/judge/batch", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: items.map((i) => JSON.stringify(i)).join("\n"),
    });
    const streamed = (await textOf(ndjson))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(streamed.map((l) => l.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(streamed.map(({ line: _line, ...result }) => result)).toEqual(json.results);
    const fields = json.results.map((r) =>
      (r.error as { status: number; errors: { field: string }[] } | undefined)?.errors.map((e) => e.field),
    );
    expect(fields).toEqual([
      undefined,
      ["item.response", "item.constraints"],
      ["item.constraints.0.id"],
      ["item.constraints.0.kwargs.num_words"],
      ["item.constraints.0.dimension"],
      undefined,
    ]);
  });

  it("refuses batches over the limit", async () => {
    await expectProblem(await postJson("/v1/judge/batch", { items: Array.from({ length: 1001 }, () => good) }), 413);
    await expectProblem(await postJson("/v1/judge/batch", { items: [] }), 422);
  });
});

describe("GET /v1/checkers", () => {
  it("lists every checker with its kwargs schema and an instruction template", async () => {
    const { checkers } = (await (await call("/v1/checkers")).json()) as {
      checkers: {
        id: string;
        family: string;
        category: string;
        instruction_template: string | null;
        kwargs_schema: { properties?: Record<string, unknown> };
      }[];
    };
    const ifeval = checkers.filter((c) => c.family === "ifeval");
    expect(ifeval).toHaveLength(25);
    const words = checkers.find((c) => c.id === "length_constraints:number_words")!;
    expect(Object.keys(words.kwargs_schema.properties!)).toEqual(expect.arrayContaining(["relation", "num_words"]));
    expect(words.instruction_template).toContain("{num_words}");
    for (const c of checkers) expect(c.instruction_template, c.id).toBeTruthy();
  });
});

describe("POST /v1/benchmarks/ifeval/score", () => {
  async function seedIfeval() {
    const prompts = env.IFEVAL_INPUT.trim()
      .split("\n")
      .map((l) => convertLine("ifeval", JSON.parse(l), { describe: describeConstraint }));
    await postJson("/v1/datasets", { name: "ifeval" }, ADMIN);
    const res = await call("/v1/datasets/ifeval/records", {
      method: "POST",
      headers: { ...ADMIN, "content-type": "application/x-ndjson" },
      body: prompts.map((p) => JSON.stringify(p)).join("\n"),
    });
    expect(res.status).toBe(200);
  }

  it("reproduces the reference totals on GPT-4's responses", async () => {
    await seedIfeval();
    const res = await call("/v1/benchmarks/ifeval/score", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: env.IFEVAL_RESPONSES,
    });
    expect(res.status).toBe(200);
    const { report, verdicts } = (await res.json()) as {
      report: {
        prompts: number;
        instructions: number;
        prompts_without_response: number;
        strict: Record<string, unknown>;
        loose: Record<string, unknown>;
      };
      verdicts: { key: number; strict: { follow_all_instructions: boolean } }[];
    };
    expect(report.prompts).toBe(541);
    expect(report.instructions).toBe(834);
    expect(report.prompts_without_response).toBe(0);
    expect(JSON.stringify(report.strict)).toMatch(/417/);
    expect(JSON.stringify(report.strict)).toMatch(/698/);
    expect(JSON.stringify(report.loose)).toMatch(/431/);
    expect(JSON.stringify(report.loose)).toMatch(/714/);
    expect(verdicts).toHaveLength(541);
    expect(verdicts.filter((v) => v.strict.follow_all_instructions)).toHaveLength(417);
  });

  it("matches by key, and names lines that match nothing", async () => {
    await seedIfeval();
    const first = JSON.parse(env.IFEVAL_INPUT.split("\n")[0]!) as { key: number };
    const ok = await call("/v1/benchmarks/ifeval/score", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: JSON.stringify({ key: first.key, response: "short" }),
    });
    const body = (await ok.json()) as { report: { prompts: number; prompts_without_response: number } };
    expect(body.report.prompts).toBe(1);
    expect(body.report.prompts_without_response).toBe(540);
    const bad = await expectProblem(
      await call("/v1/benchmarks/ifeval/score", {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: `${JSON.stringify({ key: first.key, response: "a" })}\n${JSON.stringify({ prompt: "not an ifeval prompt", response: "a" })}`,
      }),
      422,
    );
    expect(bad.errors![0]).toMatchObject({ line: 2, field: "prompt" });
    await expectProblem(
      await call("/v1/benchmarks/ifeval/score", {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: JSON.stringify({ response: "a" }),
      }),
      422,
    );
  });

  it("refuses a submission that answers one prompt twice, naming the line", async () => {
    await seedIfeval();
    const [first, second] = env.IFEVAL_INPUT.split("\n")
      .slice(0, 2)
      .map((l) => JSON.parse(l) as { key: number; prompt: string });
    const body = [
      { key: first!.key, response: "a" },
      { key: second!.key, response: "b" },
      { prompt: first!.prompt, response: "c" },
    ]
      .map((l) => JSON.stringify(l))
      .join("\n");
    const problem = await expectProblem(
      await call("/v1/benchmarks/ifeval/score", { method: "POST", headers: { "content-type": "application/x-ndjson" }, body }),
      422,
    );
    expect(problem.errors).toEqual([
      { field: "prompt", line: 3, message: `the prompt of key ${first!.key} was already answered on line 1` },
    ]);
  });

  it("says how to seed the prompt set when it is missing", async () => {
    const problem = await expectProblem(
      await call("/v1/benchmarks/ifeval/score?dataset=absent", {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: JSON.stringify({ key: 1, response: "a" }),
      }),
      404,
    );
    expect(problem.detail).toContain("npm start");
  });
});

describe("POST /v1/benchmarks/ifbench/score", () => {
  // words:start_verb on these keys: NLTK's tagger reads the first word as a proper noun, every
  // JavaScript tagger as a verb (see src/judge/README.md)
  const KNOWN_EXCEPTIONS = new Set([257, 258, 261]);

  it("agrees with the reference's strict verdicts on the sample responses, but for the named exceptions", async () => {
    const prompts = env.IFBENCH_INPUT.trim()
      .split("\n")
      .map((l) => convertLine("ifeval", JSON.parse(l), { describe: describeConstraint }));
    await postJson("/v1/datasets", { name: "ifbench" }, ADMIN);
    const seeded = await call("/v1/datasets/ifbench/records", {
      method: "POST",
      headers: { ...ADMIN, "content-type": "application/x-ndjson" },
      body: prompts.map((p) => JSON.stringify(p)).join("\n"),
    });
    expect(seeded.status).toBe(200);
    const res = await call("/v1/benchmarks/ifbench/score", {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: env.IFBENCH_RESPONSES,
    });
    expect(res.status).toBe(200);
    const { report, verdicts } = (await res.json()) as {
      report: { prompts: number; instructions: number };
      verdicts: { key: number; strict: { follow_instruction_list: boolean[] } }[];
    };
    expect(report).toMatchObject({ prompts: 294, instructions: 335 });
    const reference = env.IFBENCH_REFERENCE_STRICT.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { prompt: string; follow_instruction_list: boolean[] });
    const keyOfPrompt = new Map(
      env.IFBENCH_INPUT.trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { key: string; prompt: string })
        .map((r) => [r.prompt.trim(), Number(r.key)]),
    );
    const ours = new Map(verdicts.map((v) => [v.key, v.strict.follow_instruction_list]));
    let compared = 0;
    for (const ref of reference) {
      const key = keyOfPrompt.get(ref.prompt.trim())!;
      if (KNOWN_EXCEPTIONS.has(key)) continue;
      expect(ours.get(key), `key ${key}`).toEqual(ref.follow_instruction_list);
      compared++;
    }
    expect(compared).toBe(291);
  });
});
