/** Evaluation through the judge API: benchmarks, scoring, the eval loop. */
export {
  type Accuracy,
  type Benchmark,
  type EvalMetrics,
  loadBenchmark,
  scoreBenchmark,
} from "./benchmark.ts";
export { renderPrompt } from "./prompt.ts";
export { type EvalOptions, type EvalResult, evaluate } from "./run.ts";
