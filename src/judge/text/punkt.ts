/**
 * NLTK's Punkt sentence tokenizer (Kiss & Strunk 2006) as `PunktSentenceTokenizer.tokenize`
 * applies it with pre-trained parameters, here NLTK's English model (the one IFEval's
 * `count_sentences` and `nltk.word_tokenize` load). Written from NLTK's documented algorithm:
 *
 * 1. Candidate boundaries are ".", "?" and "!" followed by punctuation or by whitespace and a token.
 * 2. For each candidate, the word before it, the mark and the text after it form a small context;
 *    the context is split into Punkt word tokens and annotated in two passes: the first marks
 *    sentence-final marks, abbreviations and ellipses from the word type alone; the second revises
 *    those decisions with collocations, frequent sentence starters and the orthographic heuristic
 *    (how the next word was capitalised in the training data). The candidate is a boundary if a
 *    token that is not the context's last one ends a sentence.
 * 3. Closing quotes and brackets right after a boundary are moved back into the sentence before.
 *
 * Everything is a single left-to-right pass; the regular expressions used have no nested or
 * overlapping quantifiers that could backtrack more than linearly.
 */
import punktData from "../data/punkt-english.json" with { type: "json" };
import { PY_WHITESPACE, isPyBlank, pyIsLower, pyIsUpper, pyRstrip } from "./python-str.ts";

// Orthographic context flags: where (beginning, middle, unknown position) a word type was seen
// with an upper- or lower-case first letter in the training text.
const ORTHO_BEG_UC = 1 << 1;
const ORTHO_MID_UC = 1 << 2;
const ORTHO_UNK_UC = 1 << 3;
const ORTHO_BEG_LC = 1 << 4;
const ORTHO_MID_LC = 1 << 5;
const ORTHO_UNK_LC = 1 << 6;
const ORTHO_UC = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
const ORTHO_LC = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

interface PunktParameters {
  abbrevTypes: Set<string>;
  /** "type1 type2" pairs (word types never contain spaces). */
  collocations: Set<string>;
  sentenceStarters: Set<string>;
  orthoContext: Map<string, number>;
}

let parameters: PunktParameters | undefined;

/** Builds the lookup tables on first use, so importing the judge costs nothing until Punkt is needed. */
function englishParameters(): PunktParameters {
  if (parameters) return parameters;
  const orthoContext = new Map<string, number>();
  for (const [flag, types] of Object.entries(punktData.ortho_context as Record<string, string>)) {
    for (const type of types.split(" ")) orthoContext.set(type, Number(flag));
  }
  parameters = {
    abbrevTypes: new Set(punktData.abbrev_types),
    collocations: new Set(punktData.collocations.map(([a, b]) => `${a} ${b}`)),
    sentenceStarters: new Set(punktData.sentence_starters),
    orthoContext,
  };
  return parameters;
}

const WS = `[${PY_WHITESPACE}]`;
const NON_WS = `[^${PY_WHITESPACE}]`;
/** Characters that cannot appear inside a Punkt word token. */
const NON_WORD_CHARS = `[)";}\\]*:@'({\\[?!]`;
/** Hyphen runs and ellipses are tokens of their own. */
const MULTI_CHAR_PUNCT = `(?:-{2,}|\\.{2,}|(?:\\.${WS}){2,}\\.)`;
/** Characters that cannot start a word token. */
const WORD_START = `[^("\`{\\[:;&#*@)}\\]\\-,]`;

/** Punkt's word tokenizer: splits off punctuation other than periods. */
const PUNKT_WORD_RE = new RegExp(
  `${MULTI_CHAR_PUNCT}` +
    `|(?=${WORD_START})${NON_WS}+?(?=${WS}|$|${NON_WORD_CHARS}|${MULTI_CHAR_PUNCT}|,(?=$|${WS}|${NON_WORD_CHARS}|${MULTI_CHAR_PUNCT}))` +
    `|${NON_WS}`,
  "gu",
);

/** A candidate sentence end and what follows it: other punctuation, or whitespace and the next token. */
const PERIOD_CONTEXT_RE = new RegExp(`[.?!](?=(?<afterTok>${NON_WORD_CHARS}|${WS}+(?<nextTok>${NON_WS}+)))`, "gu");

/** Closing punctuation at the start of the next sentence that belongs to the previous one. */
const BOUNDARY_REALIGNMENT_RE = new RegExp(`^["')\\]}]+?(?:${WS}+|(?=--)|(?=\\n)|$)`, "u");

const NUMERIC_RE = /^-?[.,]?\p{Nd}[\p{Nd},.-]*\.?$/u;
const ELLIPSIS_RE = /^\.\.+$/;
/** Python's `[^\W\d]` (a word character that is not a decimal digit) followed by a period. */
const INITIAL_RE = /^[\p{L}\p{Nl}\p{No}_]\.$/u;
const SENTENCE_END_CHARS = new Set([".", "?", "!"]);
/** Tokens that never start a sentence (the orthographic heuristic says "not a sentence starter"). */
const PUNCTUATION_TOKENS = new Set([";", ":", ",", ".", "!", "?"]);

class PunktToken {
  readonly type: string;
  readonly periodFinal: boolean;
  parastart = false;
  linestart = false;
  sentbreak = false;
  abbr = false;
  ellipsis = false;

  constructor(readonly tok: string) {
    const lower = tok.toLowerCase();
    this.type = NUMERIC_RE.test(lower) ? "##number##" : lower;
    this.periodFinal = tok.endsWith(".");
  }

  /** The type without its final period. */
  get typeNoPeriod(): string {
    return this.type.length > 1 && this.type.endsWith(".") ? this.type.slice(0, -1) : this.type;
  }

  /** The type without its final period if that period ends a sentence. */
  get typeNoSentPeriod(): string {
    return this.sentbreak ? this.typeNoPeriod : this.type;
  }

  private get firstChar(): string {
    return String.fromCodePoint(this.tok.codePointAt(0)!);
  }

  get firstUpper(): boolean {
    return pyIsUpper(this.firstChar);
  }

  get firstLower(): boolean {
    return pyIsLower(this.firstChar);
  }

  get isEllipsis(): boolean {
    return ELLIPSIS_RE.test(this.tok);
  }

  get isInitial(): boolean {
    return INITIAL_RE.test(this.tok);
  }
}

/** Splits text into Punkt word tokens, marking the first token of each line and paragraph. */
function tokenizeWords(text: string): PunktToken[] {
  const tokens: PunktToken[] = [];
  let parastart = false;
  for (const line of text.split("\n")) {
    if (isPyBlank(line)) {
      parastart = true;
      continue;
    }
    let first = true;
    for (const match of line.matchAll(PUNKT_WORD_RE)) {
      const token = new PunktToken(match[0]);
      if (first) {
        token.parastart = parastart;
        token.linestart = true;
        parastart = false;
        first = false;
      }
      tokens.push(token);
    }
  }
  return tokens;
}

/** First pass: decisions from the word type alone. */
function annotateFirstPass(token: PunktToken, params: PunktParameters): void {
  const tok = token.tok;
  if (SENTENCE_END_CHARS.has(tok)) {
    token.sentbreak = true;
  } else if (token.isEllipsis) {
    token.ellipsis = true;
  } else if (token.periodFinal && !tok.endsWith("..")) {
    const withoutPeriod = tok.slice(0, -1).toLowerCase();
    const lastHyphenPart = withoutPeriod.slice(withoutPeriod.lastIndexOf("-") + 1);
    if (params.abbrevTypes.has(withoutPeriod) || params.abbrevTypes.has(lastHyphenPart)) {
      token.abbr = true;
    } else {
      token.sentbreak = true;
    }
  }
}

/** Orthographic heuristic: does `token` look like the first word of a sentence? */
function orthoHeuristic(token: PunktToken, params: PunktParameters): boolean | "unknown" {
  if (PUNCTUATION_TOKENS.has(token.tok)) return false;
  const context = params.orthoContext.get(token.typeNoSentPeriod) ?? 0;
  // Capitalised here, seen lower-case elsewhere, never capitalised mid-sentence: a sentence starter.
  if (token.firstUpper && context & ORTHO_LC && !(context & ORTHO_MID_UC)) return true;
  // Lower-case here, and either seen capitalised or never seen lower-case at a sentence start.
  if (token.firstLower && (context & ORTHO_UC || !(context & ORTHO_BEG_LC))) return false;
  return "unknown";
}

/** Second pass: revise the decision for `token` (which ends in a period) using the next token. */
function annotateSecondPass(token: PunktToken, next: PunktToken, params: PunktParameters): void {
  if (!token.periodFinal) return;
  const type = token.typeNoPeriod;
  const nextType = next.typeNoSentPeriod;
  const isInitial = token.isInitial;

  // Collocation heuristic: a known "word. word" pair is not a sentence break.
  if (params.collocations.has(`${type} ${nextType}`)) {
    token.sentbreak = false;
    token.abbr = true;
    return;
  }

  // An abbreviation or ellipsis may still end a sentence if the next word starts one.
  if ((token.abbr || token.ellipsis) && !isInitial) {
    if (orthoHeuristic(next, params) === true) {
      token.sentbreak = true;
      return;
    }
    if (next.firstUpper && params.sentenceStarters.has(nextType)) {
      token.sentbreak = true;
      return;
    }
  }

  // Initials and ordinal numbers followed by a word that does not start a sentence are abbreviations.
  if (isInitial || type === "##number##") {
    const startsSentence = orthoHeuristic(next, params);
    if (startsSentence === false) {
      token.sentbreak = false;
      token.abbr = true;
      return;
    }
    // An initial followed by a word that is always capitalised (e.g. "J. Bach") is an abbreviation.
    if (startsSentence === "unknown" && isInitial && next.firstUpper && !((params.orthoContext.get(nextType) ?? 0) & ORTHO_LC)) {
      token.sentbreak = false;
      token.abbr = true;
    }
  }
}

/** True if some token other than the last one of `context` ends a sentence. */
function containsSentenceBreak(context: string, params: PunktParameters): boolean {
  const tokens = tokenizeWords(context);
  for (const token of tokens) annotateFirstPass(token, params);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    if (next) annotateSecondPass(token, next, params);
    if (token.sentbreak) return next !== undefined;
  }
  return false;
}

/** Python's `string.whitespace` (ASCII only), which Punkt uses to find the word before a candidate. */
function isAsciiWhitespace(unit: number): boolean {
  return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d);
}

interface Candidate {
  /** Index of the ".", "?" or "!". */
  index: number;
  /** Where the next sentence would start: the next token, or right after the mark. */
  nextStart: number;
  /** Word before the mark + the mark + what follows it. */
  context: string;
}

/**
 * Candidate sentence ends with their contexts. The word before a candidate reaches back to the
 * last ASCII whitespace after the previous candidate; when two candidates' words overlap (no
 * whitespace between them), only the later one is kept, as NLTK does.
 */
function* potentialEndContexts(text: string): Generator<Candidate> {
  let previous: { match: RegExpExecArray; wordStart: number } | undefined;
  let previousStop = 0;
  let previousStart = 0;
  for (const match of text.matchAll(PERIOD_CONTEXT_RE)) {
    // NLTK looks for the last whitespace between the previous candidate and this one; a hit at
    // offset 0 of that span reads as "none" there (it tests the index for truthiness).
    let wordStart = previousStart;
    for (let i = match.index - 1; i > previousStop; i--) {
      if (isAsciiWhitespace(text.charCodeAt(i))) {
        wordStart = i + 1;
        break;
      }
    }
    if (previous && previousStop <= wordStart) yield toCandidate(text, previous.match, previousStart, previousStop);
    previous = { match, wordStart };
    previousStart = wordStart;
    previousStop = match.index;
  }
  if (previous) yield toCandidate(text, previous.match, previousStart, previousStop);
}

function toCandidate(text: string, match: RegExpExecArray, wordStart: number, wordStop: number): Candidate {
  // nextTok ends afterTok, which starts right after the mark (computed, not taken from the `d`
  // flag's match indices, which slow every match down).
  const { afterTok, nextTok } = match.groups!;
  return {
    index: match.index,
    nextStart: nextTok !== undefined ? match.index + 1 + afterTok!.length - nextTok.length : match.index + 1,
    context: text.slice(wordStart, wordStop) + match[0] + match.groups!.afterTok!,
  };
}

/**
 * Decisions already made, by candidate context: the decision is a function of the context alone,
 * so texts that share most of their sentences (a response and its loose-mode variants) share them.
 */
export type PunktMemo = Map<string, boolean>;

/** Sentence spans [start, end) before realignment. */
function rawSentenceSpans(text: string, params: PunktParameters, memo?: PunktMemo): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let lastBreak = 0;
  for (const candidate of potentialEndContexts(text)) {
    let isBreak = memo?.get(candidate.context);
    if (isBreak === undefined) {
      isBreak = containsSentenceBreak(candidate.context, params);
      memo?.set(candidate.context, isBreak);
    }
    if (isBreak) {
      spans.push([lastBreak, candidate.index + 1]);
      lastBreak = candidate.nextStart;
    }
  }
  // The last sentence does not include trailing whitespace.
  spans.push([lastBreak, pyRstrip(text).length]);
  return spans;
}

/** Moves closing quotes/brackets that start a sentence back to the end of the previous one. */
function realignBoundaries(text: string, spans: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let realign = 0;
  for (let i = 0; i < spans.length; i++) {
    const start = spans[i]![0] + realign;
    const end = spans[i]![1];
    const next = spans[i + 1];
    if (!next) {
      if (start < end) out.push([start, end]);
      continue;
    }
    const match = BOUNDARY_REALIGNMENT_RE.exec(text.slice(next[0], next[1]));
    if (match) {
      out.push([start, next[0] + pyRstrip(match[0]).length]);
      realign = match[0].length;
    } else {
      realign = 0;
      if (start < end) out.push([start, end]);
    }
  }
  return out;
}

/** Sentence spans [start, end) in UTF-16 indices, as NLTK's `PunktSentenceTokenizer.span_tokenize`. */
export function sentenceSpans(text: string, memo?: PunktMemo): Array<[number, number]> {
  return realignBoundaries(text, rawSentenceSpans(text, englishParameters(), memo));
}

/** The sentences of `text`, as `nltk.sent_tokenize(text)` (English) returns them. */
export function splitSentences(text: string): string[] {
  return sentenceSpans(text).map(([start, end]) => text.slice(start, end));
}
