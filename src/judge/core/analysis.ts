import { detectLanguage, type LanguageDetection } from "../langdetect/detect.ts";
import { foldCase } from "../text/literal-search.ts";
import { pyIsUpper } from "../text/python-str.ts";
import { sentenceSpans, type PunktMemo } from "../text/punkt.ts";
import { tokenizeSentences } from "../text/word-tokenize.ts";

const WORD_RUN_RE = /[\p{L}\p{N}_]+/gu;

/**
 * Work shared by the analyses of related texts: a response and its loose-mode variants have
 * most sentences in common, so Punkt's boundary decisions and the Treebank tokens of a sentence
 * are computed once for all of them (both are functions of the context or sentence alone).
 */
export class TextMemo {
  readonly punkt: PunktMemo = new Map();
  readonly sentenceTokens = new Map<string, readonly string[]>();
}

/**
 * The measurements several checkers need from one text, each computed at most once. Judging
 * a response against many constraints (and, in loose mode, eight variants of it) shares one
 * analysis per distinct text.
 */
export class TextAnalysis {
  private words?: number;
  private spans?: Array<[number, number]>;
  private capitalWords?: number;
  private language?: LanguageDetection;
  private foldedString?: string;
  private sentenceList?: string[];
  private tokenList?: string[];

  constructor(
    readonly text: string,
    private readonly memo: TextMemo = new TextMemo(),
  ) {}

  /** IFEval's `count_words`: runs of word characters (`\w+`, Unicode). */
  get wordCount(): number {
    // match() builds only the strings, not a match object per word as matchAll does. (A loop
    // over char codes was faster or slower by turns: V8 compiles it for the first kind of string
    // it meets, flat or sliced, and the loose variants are slices.)
    this.words ??= this.text.match(WORD_RUN_RE)?.length ?? 0;
    return this.words;
  }

  /** IFEval's `count_sentences`: NLTK Punkt (English). */
  get sentenceCount(): number {
    return this.sentenceSpans.length;
  }

  private get sentenceSpans(): Array<[number, number]> {
    return (this.spans ??= sentenceSpans(this.text, this.memo.punkt));
  }

  /** Tokens of `nltk.word_tokenize` that are all upper case (`str.isupper()`). */
  get capitalWordCount(): number {
    return (this.capitalWords ??= this.tokens.filter(pyIsUpper).length);
  }

  /** `nltk.sent_tokenize`: the Punkt (English) sentences. */
  get sentences(): string[] {
    return (this.sentenceList ??= this.sentenceSpans.map(([start, end]) => this.text.slice(start, end)));
  }

  /** `nltk.word_tokenize`: Treebank tokens of the Punkt sentences. */
  get tokens(): string[] {
    return (this.tokenList ??= tokenizeSentences(this.sentences, this.memo.sentenceTokens));
  }

  /** `langdetect.detect` with seed 0. */
  get detectedLanguage(): LanguageDetection {
    return (this.language ??= detectLanguage(this.text));
  }

  /** The text case-folded for IGNORECASE comparison (`foldCase`: one code point per code point). */
  get foldedText(): string {
    return (this.foldedString ??= foldCase(this.text));
  }
}
