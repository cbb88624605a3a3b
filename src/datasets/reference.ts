/**
 * The reference datasets `npm start` seeds from the repository's data/ folder (sources, licences
 * and checksums in data/README.md). The Worker uses the names and counts to report in /v1/health
 * whether seeding is complete; the seed script uses the files.
 */
export const REFERENCE_DATASETS = [
  {
    name: "trace-eval",
    format: "trace",
    file: "data/trace/trace_eval.jsonl",
    records: 1042,
    description:
      "TRACE evaluation set (Tongyi Lab, Complex-IF, MIT): 1,042 complex instructions; ids 0-199 single-constraint (IF-S), the rest multi-constraint (IF-M).",
  },
  {
    name: "ifeval",
    format: "ifeval",
    file: "data/ifeval/input_data.jsonl",
    records: 541,
    description: "IFEval prompts (Google Research, Apache-2.0): 541 prompts, 834 verifiable instructions.",
  },
  {
    name: "ifbench",
    format: "ifeval",
    file: "data/ifbench/IFBench_test.jsonl",
    records: 300,
    description: "IFBench test prompts (Allen Institute for AI, Apache-2.0): 300 prompts over 58 verifiable constraint types.",
  },
] as const;
