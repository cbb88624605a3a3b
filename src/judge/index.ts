/**
 * The judge's verifiable constraints: IFEval's 25 instructions, exactly as Google's reference
 * implementation judges them, and IFBench's 58, as AllenAI's reference does (strict and loose),
 * in one registry, in pure TypeScript shared by the Worker, the CLI and the trainer. No Node or
 * Workers APIs are used here.
 */
export { JudgeInputError, formatIssuePath, type JudgeIssue } from "./errors.ts";
export {
  TRACE_DIMENSIONS,
  type CheckOutcome,
  type Checker,
  type CheckerFamily,
  type InstructionId,
  type Perturbations,
  type TraceDimension,
} from "./core/checker.ts";
export { IFEVAL_CHECKERS } from "./ifeval/checkers.ts";
export { IFEVAL_INSTRUCTION_IDS, type IfevalInstructionId } from "./ifeval/ids.ts";
export { IFBENCH_CHECKERS } from "./ifbench/checkers.ts";
export { IFBENCH_INSTRUCTION_IDS, type IfbenchInstructionId } from "./ifbench/ids.ts";
export { splitIntoSentences } from "./ifbench/sentences.ts";
export {
  CHECKERS,
  INSTRUCTION_IDS,
  describeConstraint,
  getChecker,
  isIfevalInstructionId,
  isInstructionId,
  kwargsJsonSchema,
  listCheckers,
  parseKwargs,
  validateConstraints,
  type CheckerInfo,
} from "./core/registry.ts";
export {
  LOOSE_VARIANTS,
  judgeConstraints,
  looseVariants,
  type Constraint,
  type ConstraintResult,
  type JudgeMode,
  type JudgeResult,
  type LooseVariant,
} from "./core/judge.ts";
export {
  accuracyReport,
  evaluateIfeval,
  evaluateIfevalRecord,
  responseLookup,
  type Accuracy,
  type BenchmarkInputRecord,
  type IfevalEvaluation,
  type IfevalInputRecord,
  type IfevalOutputRecord,
  type IfevalRecordVerdict,
  type IfevalReport,
  type ModeReport,
} from "./ifeval/benchmark.ts";
export { IFEVAL_LANGUAGES, type IfevalLanguageCode } from "./ifeval/languages.ts";
export { TextAnalysis } from "./core/analysis.ts";
export { countSentences, splitSentences, sentenceSpans } from "./text/punkt.ts";
export { wordTokenize, treebankTokenize } from "./text/word-tokenize.ts";
export { detectLanguage, type LanguageDetection, type LanguageScore } from "./langdetect/detect.ts";
export { KWARGS_LIMITS, WORK_LIMITS, judgementWork } from "./limits.ts";
