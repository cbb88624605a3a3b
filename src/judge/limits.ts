/**
 * Caps on checker kwargs (and, from @iopo/common, the work a judgement costs): every string and list a caller can
 * send is bounded, so the most expensive request the API accepts stays cheap (README "Limits").
 * Both checker families build their string and list kwargs from the helpers below, so the caps
 * show up in each checker's kwargs JSON Schema (`maxLength`, `maxItems`) in GET /v1/checkers.
 *
 * The reference data stays far inside them: the longest phrase in IFEval/IFBench kwargs is 84
 * characters, the longest passage (`reference_text`, `prompt_to_repeat`) 707, the longest list 12.
 */
import { z } from "zod";
import { isPyBlank } from "./text/python-str.ts";

// what a judgement costs is part of the API's contract, which the trainer budgets by too
export { WORK_LIMITS, judgementWork } from "@iopo/common";

export const KWARGS_LIMITS = {
  /** A keyword, marker, separator or phrase (`keyword`, `end_phrase`, `sep`, ...), in characters. */
  phraseChars: 1_000,
  /** A passage (`prompt_to_repeat`, `reference_text`), in characters. */
  passageChars: 20_000,
  /** Items of a list kwarg (`keywords`, `forbidden_words`). */
  listItems: 64,
} as const;

const nonBlank = (s: string) => !isPyBlank(s);

/** A short literal (keyword, marker, phrase): non-blank, at most `phraseChars`. */
export const phrase = (what: string) =>
  z
    .string()
    .max(KWARGS_LIMITS.phraseChars, `at most ${KWARGS_LIMITS.phraseChars} characters`)
    .refine(nonBlank, "must not be blank")
    .describe(what);

/** A passage of text (a prompt to repeat, a reference text): non-blank, at most `passageChars`. */
export const passage = (what: string) =>
  z
    .string()
    .max(KWARGS_LIMITS.passageChars, `at most ${KWARGS_LIMITS.passageChars} characters`)
    .refine(nonBlank, "must not be blank")
    .describe(what);

/** A non-empty list of phrases, at most `listItems` long. */
export const phraseList = (what: string) =>
  z.array(phrase("one item")).min(1).max(KWARGS_LIMITS.listItems, `at most ${KWARGS_LIMITS.listItems} items`).describe(what);
