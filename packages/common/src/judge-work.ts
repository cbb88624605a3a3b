/**
 * What a judgement costs the judge API, shared by the Worker (which refuses requests over budget)
 * and the trainer's evaluator (which packs its batches to fit). The weights are LIMITS.work.
 */
import { LIMITS } from "./limits.ts";

export type JudgeModeName = keyof typeof LIMITS.work.variants;

/** The work of judging one response against `constraints` (see LIMITS.work). */
export function judgementWork(responseChars: number, constraints: ReadonlyArray<{ kwargs?: unknown }>, mode: JudgeModeName): number {
  const { charsPerCheck, listItemWeight, variants } = LIMITS.work;
  let weight = 1;
  for (const constraint of constraints) {
    weight += 1;
    const kwargs = constraint.kwargs;
    if (kwargs && typeof kwargs === "object") {
      for (const value of Object.values(kwargs)) if (Array.isArray(value)) weight += value.length * listItemWeight;
    }
  }
  return Math.ceil((responseChars + charsPerCheck) * variants[mode] * weight);
}
