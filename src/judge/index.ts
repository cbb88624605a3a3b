/**
 * The judge's verifiable constraints: IFEval's 25 instructions, exactly as Google's reference
 * implementation judges them (strict and loose), in pure TypeScript shared by the Worker, the CLI
 * and the trainer. No Node or Workers APIs are used here.
 */
export { JudgeInputError, formatIssuePath, type JudgeIssue } from "./errors.ts";
export {
  IFEVAL_CHECKERS,
  IFEVAL_INSTRUCTION_IDS,
  type CheckOutcome,
  type Checker,
  type IfevalInstructionId,
} from "./ifeval/checkers.ts";
export {
  describeConstraint,
  getChecker,
  isIfevalInstructionId,
  kwargsJsonSchema,
  listCheckers,
  parseKwargs,
  validateConstraints,
  type CheckerInfo,
} from "./ifeval/registry.ts";
export {
  LOOSE_VARIANTS,
  judgeConstraints,
  looseVariants,
  type Constraint,
  type ConstraintResult,
  type JudgeMode,
  type JudgeResult,
  type LooseVariant,
} from "./ifeval/judge.ts";
export {
  accuracyReport,
  evaluateIfeval,
  evaluateIfevalRecord,
  type Accuracy,
  type IfevalEvaluation,
  type IfevalInputRecord,
  type IfevalOutputRecord,
  type IfevalRecordVerdict,
  type IfevalReport,
  type ModeReport,
} from "./ifeval/benchmark.ts";
export { IFEVAL_LANGUAGES, type IfevalLanguageCode } from "./ifeval/languages.ts";
export { TextAnalysis } from "./ifeval/analysis.ts";
export { countSentences, splitSentences, sentenceSpans } from "./text/punkt.ts";
export { wordTokenize, treebankTokenize } from "./text/word-tokenize.ts";
export { detectLanguage, type LanguageDetection, type LanguageScore } from "./langdetect/detect.ts";
