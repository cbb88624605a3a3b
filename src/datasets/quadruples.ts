import { mulberry32, type RecordVerdict, seedFromKey } from "@iopo/common";
import { CHECKERS, INSTRUCTION_IDS, describeConstraint, getChecker, judgeConstraints, type JudgeResult } from "../judge/index.ts";
import type { Constraint, DatasetRecord, Instruction } from "./records.ts";

/**
 * The IOPO quadruple builder for verifiable constraints: from an SFT record (x1, y1) it makes x2 by
 * ADD, DELETE or REVISE on x1's constraints so that y1 no longer complies, takes y2 from other
 * responses to the same task that satisfy x2, and keeps the quadruple only when the judge confirms
 * y1|x1 and y2|x2 pass and y1|x2 fails. Everything is decided by the checkers (no LLM), and every
 * choice comes from a generator seeded by (job seed, record id), so a rerun builds the same output.
 *
 * DELETE alone can never make a compliant y1 non-compliant (removing a constraint only relaxes
 * x1), so for verifiable constraints DELETE removes one of x1's constraints and adds one y1 fails:
 * x2 differs from x1 in two places, as an LLM's "delete" edit that y1 stops satisfying would.
 */

export const BUILD_OPS = ["add", "delete", "revise"] as const;
export type BuildOp = (typeof BUILD_OPS)[number];

export type SkipReason =
  | "not an sft record"
  | "x1 has free-text constraints (needs the LLM judge)"
  | "x1 has no verifiable constraint"
  | "y1 does not satisfy x1"
  | "no x2 makes y1 fail"
  | "no response to the task satisfies x2";

export type BuildOutcome = { ok: true; record: Extract<DatasetRecord, { kind: "iopo" }>; op: BuildOp } | { ok: false; reason: SkipReason };

export interface BuildOptions {
  ops: readonly BuildOp[];
  seed: number;
  /** x2 candidates tried per record before giving up. */
  maxCandidates: number;
}

// --- small deterministic helpers -------------------------------------------------------------

/** The shared PRNG (mulberry32) seeded from the job seed and the record id. */
export function seededRandom(seed: number, key: string): () => number {
  return mulberry32(seedFromKey(key, (seed >>> 0) ^ 0x9e3779b9));
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

type Kwargs = Record<string, unknown>;
type Checked = { id: string; kwargs: Kwargs };

const judge = (response: string, constraints: Checked[]): JudgeResult => judgeConstraints(response, constraints, "strict");
const checkedOf = (instruction: Instruction): Checked[] =>
  instruction.constraints.map((c) => ({ id: c.checker!.id, kwargs: c.checker!.kwargs }));
const evidenceOf = (response: string, c: Checked) =>
  judge(response, [c]).results[0]!.evidence as Record<string, number | string | boolean | string[] | null>;

/**
 * REVISE: the same checker with kwargs y1 fails, or a checker that contradicts it, as the checker
 * declares (`perturb` in src/judge/core/checker.ts).
 */
function reviseCandidates(c: Checked, y1: string): Checked[] {
  const { perturb } = getChecker(c.id);
  const revised = perturb.revise ? perturb.revise(c.kwargs, evidenceOf(y1, c), y1).map((kwargs) => ({ id: c.id, kwargs })) : [];
  return [...revised, ...(perturb.contradictedBy ?? []).map((id) => ({ id, kwargs: {} }))];
}

/** The checkers that declare ADD perturbations, in their declared order. */
const ADDABLE = INSTRUCTION_IDS.map((id) => CHECKERS[id])
  .filter((checker) => checker.perturb.add)
  .sort((a, b) => a.perturb.add!.rank - b.perturb.add!.rank);

/** ADD: constraints x1 lacks that y1 may fail. */
function addCandidates(y1: string, present: ReadonlySet<string>): Checked[] {
  return ADDABLE.filter((checker) => !present.has(checker.id)).flatMap((checker) =>
    checker.perturb.add!.kwargs(y1, (kwargs) => evidenceOf(y1, { id: checker.id, kwargs })).map((kwargs) => ({ id: checker.id, kwargs })),
  );
}

// --- assembling x2 ---------------------------------------------------------------------------

const numbered = /^\d+\.\s*/;

/** x2's constraint list, keeping x1's numbering style ("1. ...") when x1 numbers its constraints. */
export function withConstraints(x1: Instruction, constraints: Constraint[]): Instruction {
  const numberedStyle = x1.constraints.length > 0 && x1.constraints.every((c) => numbered.test(c.text));
  const renumbered = numberedStyle ? constraints.map((c, i) => ({ ...c, text: `${i + 1}. ${c.text.replace(numbered, "")}` })) : constraints;
  const { prompt: _verbatim, ...rest } = x1; // a verbatim prompt would no longer match the constraints
  return { ...rest, constraints: renumbered };
}

const asConstraint = (c: Checked, dimension?: string): Constraint => ({
  text: describeConstraint(c.id, c.kwargs),
  dimension: dimension ?? getChecker(c.id).trace,
  checker: { id: c.id, kwargs: c.kwargs },
});

function candidateX2s(x1: Instruction, y1: string, op: BuildOp, random: () => number): Instruction[] {
  const checked = checkedOf(x1);
  const present = new Set(checked.map((c) => c.id));
  const out: Instruction[] = [];
  if (op === "revise") {
    for (const i of shuffle([...checked.keys()], random)) {
      for (const revised of shuffle(reviseCandidates(checked[i]!, y1), random)) {
        const constraints = [...x1.constraints];
        constraints[i] = asConstraint(revised, x1.constraints[i]!.dimension);
        out.push(withConstraints(x1, constraints));
      }
    }
  } else {
    const additions = shuffle(addCandidates(y1, present), random);
    if (op === "add") {
      for (const added of additions) out.push(withConstraints(x1, [...x1.constraints, asConstraint(added)]));
    } else if (x1.constraints.length > 0) {
      for (const i of shuffle([...checked.keys()], random)) {
        for (const added of additions) {
          if (added.id === checked[i]!.id) continue;
          const constraints = x1.constraints.filter((_, j) => j !== i);
          out.push(withConstraints(x1, [...constraints, asConstraint(added)]));
        }
      }
    }
  }
  return out;
}

const verdict = (result: JudgeResult): RecordVerdict => ({
  followed_all: result.followed_all,
  results: result.results as unknown as Record<string, unknown>[],
  judge: "rule:strict",
});

/**
 * Builds one quadruple from `source` (an sft record); `pool` holds other responses to the same
 * task (same description and input), the candidates for y2.
 */
export function buildQuadruple(recordId: string, source: DatasetRecord, pool: readonly string[], options: BuildOptions): BuildOutcome {
  if (source.kind !== "sft") return { ok: false, reason: "not an sft record" };
  const x1 = source.instruction;
  const y1 = source.response;
  if (x1.constraints.some((c) => !c.checker)) return { ok: false, reason: "x1 has free-text constraints (needs the LLM judge)" };
  if (x1.constraints.length === 0) return { ok: false, reason: "x1 has no verifiable constraint" };
  const y1x1 = judge(y1, checkedOf(x1));
  if (!y1x1.followed_all) return { ok: false, reason: "y1 does not satisfy x1" };

  const random = seededRandom(options.seed, recordId);
  const candidates = [...new Set(pool)].filter((r) => r !== y1);
  let invalidatedAny = false;
  let tried = 0;
  for (const op of shuffle([...options.ops], random)) {
    for (const x2 of candidateX2s(x1, y1, op, random)) {
      if (tried++ >= options.maxCandidates) break;
      const x2Checks = checkedOf(x2);
      const y1x2 = judge(y1, x2Checks);
      if (y1x2.followed_all) continue;
      invalidatedAny = true;
      for (const y2 of shuffle(candidates, random)) {
        const y2x2 = judge(y2, x2Checks);
        if (!y2x2.followed_all) continue;
        const y2x1 = judge(y2, checkedOf(x1));
        return {
          ok: true,
          op,
          record: {
            kind: "iopo",
            x1,
            y1,
            x2,
            y2,
            verdicts: { y1_x1: verdict(y1x1), y2_x2: verdict(y2x2), y1_x2: verdict(y1x2), y2_x1: verdict(y2x1) },
            meta: { source_record: recordId, op, builder: "rule-v1", seed: options.seed },
          },
        };
      }
    }
  }
  return { ok: false, reason: invalidatedAny ? "no response to the task satisfies x2" : "no x2 makes y1 fail" };
}
