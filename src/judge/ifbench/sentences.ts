/**
 * The regex sentence splitter of the instructions_util module that IFBench's reference checkers
 * call (`split_into_sentences`, inherited from Google's IFEval utilities), not NLTK's Punkt: it
 * protects known abbreviations, initials, acronyms, decimals, websites and "..." with a marker,
 * moves a period or "!"/"?" outside a closing quote, then cuts after every remaining ".", "?" and
 * "!". Reproduced step by step; each step is a single left-to-right pass (no pattern here can
 * backtrack more than a few characters).
 */
import { PY_WHITESPACE, pyStrip } from "../text/python-str.ts";
import type { TextAnalysis } from "../core/analysis.ts";

const S = `[${PY_WHITESPACE}]`;
const ALPHABETS = "([A-Za-z])";
const PREFIXES = /(Mr|St|Mrs|Ms|Dr)[.]/g;
const SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)";
const STARTERS = `(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He${S}|She${S}|It${S}|They${S}|Their${S}|Our${S}|We${S}|But${S}|However${S}|That${S}|This${S}|Wherever)`;
const ACRONYMS = "([A-Z][.][A-Z][.](?:[A-Z][.])?)";
const WEBSITES = /[.](com|net|org|io|gov|edu|me)/g;
const DECIMAL = /([0-9])[.]([0-9])/g;
const MULTIPLE_DOTS = /\.{2,}/g;
const INITIAL = new RegExp(`${S}${ALPHABETS}[.] `, "g");
const ACRONYM_THEN_STARTER = new RegExp(`${ACRONYMS} ${STARTERS}`, "g");
const THREE_INITIALS = new RegExp(`${ALPHABETS}[.]${ALPHABETS}[.]${ALPHABETS}[.]`, "g");
const TWO_INITIALS = new RegExp(`${ALPHABETS}[.]${ALPHABETS}[.]`, "g");
const SUFFIX_THEN_STARTER = new RegExp(` ${SUFFIXES}[.] ${STARTERS}`, "g");
const SUFFIX = new RegExp(` ${SUFFIXES}[.]`, "g");
const SPACED_INITIAL = new RegExp(` ${ALPHABETS}[.]`, "g");

/** `instructions_util.split_into_sentences(text)`. */
export function splitIntoSentences(input: string): string[] {
  let text = " " + input + "  ";
  text = text.replaceAll("\n", " ");
  text = text.replace(PREFIXES, "$1<prd>");
  text = text.replace(WEBSITES, "<prd>$1");
  text = text.replace(DECIMAL, "$1<prd>$2");
  text = text.replace(MULTIPLE_DOTS, (dots) => "<prd>".repeat(dots.length) + "<stop>");
  if (text.includes("Ph.D")) text = text.replaceAll("Ph.D.", "Ph<prd>D<prd>");
  text = text.replace(INITIAL, " $1<prd> ");
  text = text.replace(ACRONYM_THEN_STARTER, "$1<stop> $2");
  text = text.replace(THREE_INITIALS, "$1<prd>$2<prd>$3<prd>");
  text = text.replace(TWO_INITIALS, "$1<prd>$2<prd>");
  text = text.replace(SUFFIX_THEN_STARTER, " $1<stop> $2");
  text = text.replace(SUFFIX, " $1<prd>");
  text = text.replace(SPACED_INITIAL, " $1<prd>");
  text = text.replaceAll(".\u201d", "\u201d.");
  text = text.replaceAll('."', '".');
  text = text.replaceAll('!"', '"!');
  text = text.replaceAll('?"', '"?');
  text = text.replaceAll(".", ".<stop>");
  text = text.replaceAll("?", "?<stop>");
  text = text.replaceAll("!", "!<stop>");
  text = text.replaceAll("<prd>", ".");
  let sentences = text.split("<stop>").map(pyStrip);
  if (sentences.length > 0 && sentences.at(-1) === "") sentences = sentences.slice(0, -1);
  return sentences;
}

const cache = new WeakMap<TextAnalysis, string[]>();

/** The sentences of an analysed text, computed once per text. */
export function sentencesOf(text: TextAnalysis): string[] {
  let sentences = cache.get(text);
  if (!sentences) {
    sentences = splitIntoSentences(text.text);
    cache.set(text, sentences);
  }
  return sentences;
}
