/**
 * The API's fixed caps, each stated once. The Worker refuses what goes beyond them (an item a 422,
 * a request a 413, naming the limit), its OpenAPI descriptions and `GET /v1/checkers` print them,
 * and the CLI, the trainer and the pipelines size what they send by them. A key's model-call
 * budget is not here: an admin sets that per key (src/lib/spend.ts), it is data.
 */
export const LIMITS = {
  /**
   * Constraints of one instruction: a stored record's, a judged item's, a pipeline's edit. One
   * number, so whatever a pipeline builds can be stored, and whatever is stored can be judged.
   */
  constraints: 64,
  /** Characters of a constraint in words. */
  constraintTextChars: 20_000,
  /** Characters of a response: judged, scored, or written by a pipeline's model. */
  responseChars: 200_000,
  /** Characters of an instruction as the judge reads it (a record's prompt or input). */
  instructionChars: 500_000,

  /** Items of one POST /v1/judge/batch, of which `judgeLlmItems` with free-text constraints (LLM calls). */
  judgeItems: 1000,
  judgeLlmItems: 100,
  /** Responses of one TRACE scoring request: each is one LLM call (plus retries). */
  traceItems: 50,
  /** Items of one CFBench scoring request: each is one LLM call (plus retries). */
  cfbenchItems: 50,
  /** Responses of one IFEval/IFBench scoring request (checkers only, no model). */
  verifiableItems: 10_000,
  /** Records of one POST /v1/datasets/{name}/records. */
  recordsPerRequest: 10_000,
  /** Rows of one page (GET .../rows, GET .../search). */
  rowsPage: 100,
  /** How deep a search may page: ranking every match costs more the further it goes. */
  searchOffset: 10_000,
  /** Terms of one search: each is one more phrase for the index to match. */
  searchTermsPerQuery: 16,
  /** A term too short for the trigram index scans the dataset's texts: only datasets up to this many records. */
  searchScanRecords: 20_000,

  /** A record's JSON: how deep it nests, and the size of its `meta`. */
  record: { maxDepth: 64, metaJsonChars: 65_536 },

  /**
   * Checker kwargs: every string and list a caller can send is bounded, so the costliest request
   * the judge accepts stays cheap. IFEval/IFBench's own data stay far inside them: the longest
   * phrase is 84 characters, the longest passage 707, the longest list 12.
   */
  kwargs: {
    /** A keyword, marker, separator or phrase (`keyword`, `end_phrase`, `sep`, ...), in characters. */
    phraseChars: 1_000,
    /** A passage (`prompt_to_repeat`, `reference_text`), in characters. */
    passageChars: 20_000,
    /** Items of a list kwarg (`keywords`, `forbidden_words`). */
    listItems: 64,
  },

  /**
   * A judgement's work, in character-checks (judgementWork, ./judge-work.ts): (the response's
   * characters + `charsPerCheck`) × the texts each constraint is checked on (`variants`) ×
   * (constraints + 1, the +1 for the analyses they share), with a list kwarg counting
   * `listItemWeight` extra per item (a literal search is ~50× cheaper than the costliest checker's
   * pass). The 256 stand for what a check costs whatever the length (~30 µs with its evidence),
   * which dominates batches of short responses. A request (one item, or a whole batch) may cost at
   * most `maxWorkPerRequest`: the costliest checkers take up to ~250 ns per character-check, so any
   * accepted request stays under 250 ms of judging on a small machine, with a margin for a busy
   * one (`npm run bench -- judge-abuse` prints the worst cases).
   */
  work: {
    maxWorkPerRequest: 1_200_000,
    charsPerCheck: 256,
    variants: { strict: 1, loose: 8, both: 9 },
    listItemWeight: 1 / 32,
  },
} as const;
