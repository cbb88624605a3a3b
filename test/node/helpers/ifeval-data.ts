import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { IfevalInputRecord, IfevalOutputRecord } from "../../../src/judge/index.ts";

/** The vendored reference data (data/ at the project root; sources and checksums in its README). */
export const REFERENCE_DATA = fileURLToPath(new URL("../../../data/", import.meta.url));
export const IFEVAL_DIR = `${REFERENCE_DATA}ifeval/`;
export const INPUT_DATA = `${IFEVAL_DIR}input_data_gpt4_20231107_145030.jsonl`;
export const RESPONSES = `${IFEVAL_DIR}input_response_data_gpt4_20231107_145030.jsonl`;
export const REFERENCE_STRICT = `${IFEVAL_DIR}reference/eval_results_strict.jsonl`;
export const REFERENCE_LOOSE = `${IFEVAL_DIR}reference/eval_results_loose.jsonl`;

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as T);
}

export function loadGpt4Benchmark() {
  const records = readJsonl<IfevalInputRecord>(INPUT_DATA);
  const responses = new Map(readJsonl<{ prompt: string; response: string }>(RESPONSES).map((r) => [r.prompt, r.response]));
  const strict = readJsonl<IfevalOutputRecord>(REFERENCE_STRICT);
  const loose = readJsonl<IfevalOutputRecord>(REFERENCE_LOOSE);
  return { records, responses, strict, loose };
}
