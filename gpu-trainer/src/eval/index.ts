/** Evaluation through the judge API: benchmarks, scoring, the eval loop. */
export {
  type Accuracy,
  type Benchmark,
  type BenchmarkKind,
  type EvalItem,
  type EvalMetrics,
  type Scored,
  preflightTrace,
  type ScoredItem,
  benchmarkKind,
  formatMetrics,
  loadBenchmark,
  scoreBenchmark,
} from "./benchmark.ts";
export { type Constraint, type Instruction, instructionOfRow, renderPrompt } from "./prompt.ts";
export { EVAL_DEFAULTS, type EvalItemResult, type EvalOptions, type EvalResult, evaluate } from "./run.ts";
