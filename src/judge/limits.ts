/**
 * The checkers' kwargs helpers, capped by LIMITS.kwargs (@iopo/common): both checker families build
 * their string and list kwargs from them, so the caps show up in each checker's kwargs JSON Schema
 * (`maxLength`, `maxItems`) in GET /v1/checkers.
 */
import { LIMITS } from "@iopo/common";
import { z } from "zod";
import { isPyBlank } from "./text/python-str.ts";

const { phraseChars, passageChars, listItems } = LIMITS.kwargs;

const nonBlank = (s: string) => !isPyBlank(s);

/** A short literal (keyword, marker, phrase): non-blank, at most `phraseChars`. */
export const phrase = (what: string) =>
  z.string().max(phraseChars, `at most ${phraseChars} characters`).refine(nonBlank, "must not be blank").describe(what);

/** A passage of text (a prompt to repeat, a reference text): non-blank, at most `passageChars`. */
export const passage = (what: string) =>
  z.string().max(passageChars, `at most ${passageChars} characters`).refine(nonBlank, "must not be blank").describe(what);

/** A non-empty list of phrases, at most `listItems` long. */
export const phraseList = (what: string) => z.array(phrase("one item")).min(1).max(listItems, `at most ${listItems} items`).describe(what);
