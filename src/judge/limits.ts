/**
 * Caps on checker kwargs, and the work a judgement costs: every string and list a caller can
 * send is bounded, so the most expensive request the API accepts stays cheap (README "Limits").
 * Both checker families build their string and list kwargs from the helpers below, so the caps
 * show up in each checker's kwargs JSON Schema (`maxLength`, `maxItems`) in GET /v1/checkers.
 *
 * The reference data stays far inside them: the longest phrase in IFEval/IFBench kwargs is 84
 * characters, the longest passage (`reference_text`, `prompt_to_repeat`) 707, the longest list 12.
 */
import { z } from "zod";
import { isPyBlank } from "./text/python-str.ts";

export const KWARGS_LIMITS = {
  /** A keyword, marker, separator or phrase (`keyword`, `end_phrase`, `sep`, ...), in characters. */
  phraseChars: 1_000,
  /** A passage (`prompt_to_repeat`, `reference_text`), in characters. */
  passageChars: 20_000,
  /** Items of a list kwarg (`keywords`, `forbidden_words`). */
  listItems: 64,
} as const;

/**
 * A judgement's work, in character-checks: (the response's characters + 256) × the texts each
 * constraint is checked on (strict 1, loose 8 variants, both 9) × (constraints + 1, the +1 for the
 * analyses they share), with a list kwarg counting 1/32 extra per item (a literal search is ~50×
 * cheaper than the costliest checker's pass). The 256 stand for what a check costs whatever the
 * length (~30 µs with its evidence), which dominates batches of short responses. A request (one
 * item, or a whole batch) may cost at most `maxWorkPerRequest`: the costliest checkers take up to
 * ~250 ns per character-check, so any accepted request stays under 250 ms of judging on a small
 * machine, with a margin for a busy one (`npm run bench -- judge-abuse` prints the worst cases).
 */
export const WORK_LIMITS = {
  maxWorkPerRequest: 1_200_000,
  charsPerCheck: 256,
  variants: { strict: 1, loose: 8, both: 9 },
  listItemWeight: 1 / 32,
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
  z
    .array(phrase("one item"))
    .min(1)
    .max(KWARGS_LIMITS.listItems, `at most ${KWARGS_LIMITS.listItems} items`)
    .describe(what);

export type JudgeModeName = keyof typeof WORK_LIMITS.variants;

/** The work of judging one response against `constraints` (see WORK_LIMITS). */
export function judgementWork(
  responseChars: number,
  constraints: ReadonlyArray<{ kwargs?: unknown }>,
  mode: JudgeModeName,
): number {
  let weight = 1;
  for (const constraint of constraints) {
    weight += 1;
    const kwargs = constraint.kwargs;
    if (kwargs && typeof kwargs === "object") {
      for (const value of Object.values(kwargs)) if (Array.isArray(value)) weight += value.length * WORK_LIMITS.listItemWeight;
    }
  }
  return Math.ceil((responseChars + WORK_LIMITS.charsPerCheck) * WORK_LIMITS.variants[mode] * weight);
}
