/**
 * `nltk.word_tokenize` (English): Punkt sentences, each split by NLTK's improved Treebank word
 * tokenizer (`NLTKWordTokenizer`). IFEval counts all-capital words over these tokens, so what
 * matters is exactly where tokens split ("I'M" is two tokens, "U.S." one).
 *
 * The tokenizer is a fixed sequence of substitutions that pad punctuation with spaces, then a
 * whitespace split. Python's `\s`, `\w`, `\d` and `\b` are Unicode-aware; they are spelled out here.
 * Two of NLTK's substitutions ("split off the sentence-final period") are anchored at the end of
 * the sentence and backtrack quadratically on long runs of spaces; they are implemented as one
 * backwards scan with the same result.
 */
import { splitSentences } from "./punkt.ts";
import { PY_DIGIT, PY_WHITESPACE, PY_WORD, isPyWhitespaceUnit, pySplitWhitespace } from "./python-str.ts";

const WORD = `[${PY_WORD}]`;
const NOT_WORD_BEFORE = `(?<!${WORD})`;
const NOT_WORD_AFTER = `(?!${WORD})`;

/**
 * A substitution, with substrings of which the text must contain one for the pattern to match:
 * `replace` costs about a microsecond even when nothing matches, and most sentences need only a
 * few of the ~30 rules, so a rule whose characters are absent is skipped (same result).
 */
type Substitution = readonly [RegExp, string, needs: readonly string[]];

const STARTING_QUOTES: Substitution[] = [
  [/([«“‘„]|`+)/gu, " $1 ", ["«", "“", "‘", "„", "`"]],
  [/^"/u, "``", ['"']],
  [/(``)/gu, " $1 ", ["``"]],
  [/([ ([{<])("|'')/gu, "$1 `` ", ['"', "''"]],
  // An apostrophe before a word that is not a known clitic ('re, 've, ...) is an opening quote.
  [new RegExp(`(')(?!re|ve|ll|m|t|s|d|n)(${WORD})${NOT_WORD_AFTER}`, "giu"), "$1 $2", ["'"]],
];

const ENDING_QUOTES: Substitution[] = [
  [/([»”’])/gu, " $1 ", ["»", "”", "’"]],
  [/''/gu, " '' ", ["''"]],
  [/"/gu, " '' ", ['"']],
  [/([^' ])('[sS]|'[mM]|'[dD]|') /gu, "$1 $2 ", ["'"]],
  [/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /gu, "$1 $2 ", ["'"]],
];

/** Closing brackets/quotes (and, for the first rule, spaces) allowed between a final period and the end. */
const FINAL_PERIOD_CLOSERS_WITH_SPACE = new Set([..."])}>\"'»”’ "]);
const FINAL_PERIOD_CLOSERS = new Set([..."])}>\"'"]);

const PUNCTUATION_BEFORE_FINAL_PERIOD: Substitution[] = [
  [new RegExp(`([:,])([^${PY_DIGIT}])`, "gu"), " $1 $2", [":", ","]],
  [/([:,])(?=\n?$)/gu, " $1 ", [":", ","]],
  [/\.{2,}/gu, " $& ", [".."]],
  [/[;@#$%&]/gu, " $& ", [";", "@", "#", "$", "%", "&"]],
];

const PUNCTUATION_AFTER_FINAL_PERIOD: Substitution[] = [
  [/[?!]/gu, " $& ", ["?", "!"]],
  [/([^'])' /gu, "$1 ' ", ["' "]],
  [/[*]/gu, " $& ", ["*"]],
];

const PARENS_BRACKETS: Substitution = [/[\][(){}<>]/gu, " $& ", ["[", "]", "(", ")", "{", "}", "<", ">"]];
const DOUBLE_DASHES: Substitution = [/--/gu, " -- ", ["--"]];

/**
 * Case-insensitive rules: `needs` holds the lower-cased word, looked for in the lower-cased text.
 * That is exact for ASCII text only (with the `iu` flags, "ſ" matches "s" and "K" matches "k"),
 * so text with other characters gets every rule.
 */
const CONTRACTIONS: Substitution[] = [
  ...[
    ["can", "not"],
    ["d", "'ye"],
    ["gim", "me"],
    ["gon", "na"],
    ["got", "ta"],
    ["lem", "me"],
    ["more", "'n"],
  ].map(([a, b]): Substitution => [new RegExp(`${NOT_WORD_BEFORE}(${a})(${b})${NOT_WORD_AFTER}`, "giu"), " $1 $2 ", [a! + b!]]),
  [new RegExp(`${NOT_WORD_BEFORE}(wan)(na)(?=[${PY_WHITESPACE}])`, "giu"), " $1 $2 ", ["wanna"]],
  [new RegExp(` ('t)(is)${NOT_WORD_AFTER}`, "giu"), " $1 $2 ", ["'tis"]],
  [new RegExp(` ('t)(was)${NOT_WORD_AFTER}`, "giu"), " $1 $2 ", ["'twas"]],
];

const NON_ASCII_RE = /[^\0-\x7f]/;

/** Applies the substitutions in order (`lowerCase`: look for `needs` in the lower-cased text). */
function applyAll(text: string, substitutions: readonly Substitution[], lowerCase = false): string {
  const everyRule = lowerCase && NON_ASCII_RE.test(text);
  let haystack = lowerCase ? text.toLowerCase() : text;
  for (const [pattern, replacement, needs] of substitutions) {
    if (!everyRule && !needs.some((needle) => haystack.includes(needle))) continue;
    const replaced = text.replace(pattern, replacement);
    if (replaced !== text) {
      text = replaced;
      haystack = lowerCase ? text.toLowerCase() : text;
    }
  }
  return text;
}

/**
 * NLTK's `([^\.])(\.)([closers]*)\s*$` substitution: a period that is preceded by a non-period and
 * followed only by closers and whitespace until the end gets padded with spaces; the trailing
 * whitespace is dropped and a single space appended. `spaceAfterPeriod` selects between NLTK's two
 * variants ("\1 \2 \3 " and "\1 \2\3 ").
 */
function splitFinalPeriod(text: string, closers: ReadonlySet<string>, spaceAfterPeriod: boolean): string {
  let trailingWhitespace = text.length;
  while (trailingWhitespace > 0 && isPyWhitespaceUnit(text.charCodeAt(trailingWhitespace - 1))) trailingWhitespace--;
  let closersStart = trailingWhitespace;
  while (closersStart > 0 && closers.has(text[closersStart - 1]!)) closersStart--;
  const period = closersStart - 1;
  if (period < 1 || text[period] !== "." || text[period - 1] === ".") return text;
  // The closers group is greedy: it also takes closer characters (spaces) from the trailing whitespace.
  let closersEnd = trailingWhitespace;
  while (closersEnd < text.length && closers.has(text[closersEnd]!)) closersEnd++;
  const closing = text.slice(closersStart, closersEnd);
  return text.slice(0, period) + (spaceAfterPeriod ? " . " : " .") + closing + " ";
}

/** NLTK's `NLTKWordTokenizer.tokenize` for one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = applyAll(sentence, STARTING_QUOTES);
  text = splitFinalPeriod(text, FINAL_PERIOD_CLOSERS_WITH_SPACE, true);
  text = applyAll(text, PUNCTUATION_BEFORE_FINAL_PERIOD);
  text = splitFinalPeriod(text, FINAL_PERIOD_CLOSERS, false);
  text = applyAll(text, PUNCTUATION_AFTER_FINAL_PERIOD);
  text = applyAll(text, [PARENS_BRACKETS, DOUBLE_DASHES]);
  text = applyAll(" " + text + " ", ENDING_QUOTES);
  text = applyAll(text, CONTRACTIONS, true);
  return pySplitWhitespace(text);
}

/** `nltk.word_tokenize(text)` with the English Punkt model. */
export function wordTokenize(text: string): string[] {
  return tokenizeSentences(splitSentences(text));
}

/**
 * The Treebank tokens of Punkt sentences, in order. `memo` (sentence -> tokens) lets texts that
 * share sentences (a response and its loose-mode variants) tokenize each sentence once.
 */
export function tokenizeSentences(sentences: readonly string[], memo?: Map<string, readonly string[]>): string[] {
  const tokens: string[] = [];
  for (const sentence of sentences) {
    let own = memo?.get(sentence);
    if (!own) {
      own = treebankTokenize(sentence);
      memo?.set(sentence, own);
    }
    for (const token of own) tokens.push(token);
  }
  return tokens;
}
