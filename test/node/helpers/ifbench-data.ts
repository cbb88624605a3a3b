import type { BenchmarkInputRecord, IfevalOutputRecord } from "../../../src/judge/index.ts";
import { REFERENCE_DATA, readJsonl } from "./ifeval-data.ts";

export const IFBENCH_DIR = `${REFERENCE_DATA}ifbench/`;
/** The 294-prompt release that the sample responses answer. */
export const IFBENCH_INPUT_ORIG = `${IFBENCH_DIR}IFBench_test.orig.jsonl`;
/** The current 300-prompt release. */
export const IFBENCH_INPUT = `${IFBENCH_DIR}IFBench_test.jsonl`;
export const IFBENCH_RESPONSES = `${IFBENCH_DIR}reference/sample_output.jsonl`;
export const IFBENCH_REFERENCE_STRICT = `${IFBENCH_DIR}reference/eval_results_strict.jsonl`;
export const IFBENCH_REFERENCE_LOOSE = `${IFBENCH_DIR}reference/eval_results_loose.jsonl`;

/**
 * Verdicts of the reference that we knowingly do not reproduce, as "key id" (the same in strict
 * and loose mode). `words:start_verb`: the reference tags the first token with NLTK's
 * averaged-perceptron model, which tags "Conceive", "Understand" and "Build" at the start of these
 * responses as non-verbs; wink-pos-tagger (which we bundle instead) tags them VB.
 */
export const IFBENCH_KNOWN_EXCEPTIONS = [
  "257 words:start_verb", // "Conceive an empire where ..."
  "258 words:start_verb", // "Understand Galois theory by ..."
  "261 words:start_verb", // "Build resilient relationships by ..."
] as const;

export function loadIfbenchSample() {
  const records = readJsonl<BenchmarkInputRecord>(IFBENCH_INPUT_ORIG);
  const responses = new Map(readJsonl<{ prompt: string; response: string }>(IFBENCH_RESPONSES).map((r) => [r.prompt, r.response]));
  const strict = readJsonl<IfevalOutputRecord>(IFBENCH_REFERENCE_STRICT);
  const loose = readJsonl<IfevalOutputRecord>(IFBENCH_REFERENCE_LOOSE);
  return { records, responses, strict, loose };
}
