/**
 * What a judgement costs the judge API, shared by the Worker (which refuses requests over budget)
 * and the trainer's evaluator (which packs its batches to fit).
 */

/**
 * A judgement's work, in character-checks: (the response's characters + 256) × the texts each
 * constraint is checked on (strict 1, loose 8 variants, both 9) × (constraints + 1, the +1 for the
 * analyses they share), with a list kwarg counting 1/32 extra per item (a literal search is ~50×
 * cheaper than the costliest checker's pass). The 256 stand for what a check costs whatever the
 * length (~30 µs with its evidence), which dominates batches of short responses. A request (one
 * item, or a whole batch) may cost at most `maxWorkPerRequest`: the costliest checkers take up to
 * ~250 ns per character-check, so any accepted request stays under 250 ms of judging on a small
 * machine, with a margin for a busy one (`npm run bench -- judge-abuse` prints the worst cases).
 */
export const WORK_LIMITS = {
  maxWorkPerRequest: 1_200_000,
  charsPerCheck: 256,
  variants: { strict: 1, loose: 8, both: 9 },
  listItemWeight: 1 / 32,
} as const;

export type JudgeModeName = keyof typeof WORK_LIMITS.variants;

/** The work of judging one response against `constraints` (see WORK_LIMITS). */
export function judgementWork(responseChars: number, constraints: ReadonlyArray<{ kwargs?: unknown }>, mode: JudgeModeName): number {
  let weight = 1;
  for (const constraint of constraints) {
    weight += 1;
    const kwargs = constraint.kwargs;
    if (kwargs && typeof kwargs === "object") {
      for (const value of Object.values(kwargs)) if (Array.isArray(value)) weight += value.length * WORK_LIMITS.listItemWeight;
    }
  }
  return Math.ceil((responseChars + WORK_LIMITS.charsPerCheck) * WORK_LIMITS.variants[mode] * weight);
}
