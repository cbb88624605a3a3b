/**
 * `iopo ifeval` and `iopo ifbench`: `iopo eval-verifiable` with the suite fixed.
 *
 *   iopo ifeval --input-data input_data.jsonl --responses responses.jsonl --output-dir out/ [--allow-missing]
 *   iopo ifbench --input-data IFBench_test.jsonl --responses responses.jsonl --output-dir out/ [--allow-missing]
 */
import { runEvalVerifiable } from "./eval-verifiable.ts";

export const runIfeval = (argv: string[]): Promise<number> => runEvalVerifiable(argv, "ifeval");
export const runIfbench = (argv: string[]): Promise<number> => runEvalVerifiable(argv, "ifbench");
