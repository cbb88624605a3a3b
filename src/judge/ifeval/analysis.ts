import { detectLanguage, type LanguageDetection } from "../langdetect/detect.ts";
import { foldCaseCodePoints } from "../text/literal-search.ts";
import { codePoints, pyIsUpper } from "../text/python-str.ts";
import { countSentences, splitSentences } from "../text/punkt.ts";
import { wordTokenize } from "../text/word-tokenize.ts";

const WORD_RUN_RE = /[\p{L}\p{N}_]+/gu;

/**
 * The measurements several checkers need from one text, each computed at most once. Judging
 * a response against many constraints (and, in loose mode, eight variants of it) shares one
 * analysis per distinct text.
 */
export class TextAnalysis {
  private words?: number;
  private sentenceTotal?: number;
  private capitalWords?: number;
  private language?: LanguageDetection;
  private points?: Uint32Array;
  private folded?: Uint32Array;
  private sentenceList?: string[];
  private tokenList?: string[];

  constructor(readonly text: string) {}

  /** IFEval's `count_words`: runs of word characters (`\w+`, Unicode). */
  get wordCount(): number {
    if (this.words === undefined) {
      let n = 0;
      for (const _ of this.text.matchAll(WORD_RUN_RE)) n++;
      this.words = n;
    }
    return this.words;
  }

  /** IFEval's `count_sentences`: NLTK Punkt (English). */
  get sentenceCount(): number {
    return (this.sentenceTotal ??= countSentences(this.text));
  }

  /** Tokens of `nltk.word_tokenize` that are all upper case (`str.isupper()`). */
  get capitalWordCount(): number {
    return (this.capitalWords ??= this.tokens.filter(pyIsUpper).length);
  }

  /** `nltk.sent_tokenize`: the Punkt (English) sentences. */
  get sentences(): string[] {
    return (this.sentenceList ??= splitSentences(this.text));
  }

  /** `nltk.word_tokenize`: Treebank tokens of the Punkt sentences. */
  get tokens(): string[] {
    return (this.tokenList ??= wordTokenize(this.text));
  }

  /** `langdetect.detect` with seed 0. */
  get detectedLanguage(): LanguageDetection {
    return (this.language ??= detectLanguage(this.text));
  }

  get codePoints(): Uint32Array {
    return (this.points ??= codePoints(this.text));
  }

  /** Code points case-folded for IGNORECASE comparison (same length as `codePoints`). */
  get foldedCodePoints(): Uint32Array {
    return (this.folded ??= foldCaseCodePoints(this.text));
  }
}
