/**
 * The judge's verifiable constraints: IFEval's 25 instructions, exactly as Google's reference
 * implementation judges them, and IFBench's 58, as AllenAI's reference does (strict and loose),
 * in one registry, in pure TypeScript shared by the Worker, the CLI and the trainer. No Node or
 * Workers APIs are used here.
 */
export { JudgeInputError, formatIssuePath, type JudgeIssue } from "./errors.ts";
export {
  TRACE_DIMENSIONS,
  type InstructionId,
} from "./core/checker.ts";
export { IFEVAL_INSTRUCTION_IDS } from "./ifeval/ids.ts";
export { IFBENCH_CHECKERS } from "./ifbench/checkers.ts";
export { IFBENCH_INSTRUCTION_IDS } from "./ifbench/ids.ts";
export { splitIntoSentences } from "./ifbench/sentences.ts";
export {
  CHECKERS,
  INSTRUCTION_IDS,
  describeConstraint,
  getChecker,
  kwargsJsonSchema,
  listCheckers,
  parseKwargs,
  validateConstraints,
} from "./core/registry.ts";
export {
  judgeConstraints,
  looseVariants,
  type Constraint,
  type ConstraintResult,
  type JudgeMode,
  type JudgeResult,
} from "./core/judge.ts";
export {
  accuracyReport,
  evaluateIfeval,
  evaluateIfevalRecord,
  responseLookup,
  type Accuracy,
  type BenchmarkInputRecord,
  type IfevalInputRecord,
  type IfevalOutputRecord,
  type IfevalReport,
} from "./ifeval/benchmark.ts";
export { TextAnalysis } from "./core/analysis.ts";
export { splitSentences } from "./text/punkt.ts";
export { wordTokenize, treebankTokenize } from "./text/word-tokenize.ts";
export { detectLanguage } from "./langdetect/detect.ts";
