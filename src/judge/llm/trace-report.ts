/**
 * TRACE scoring (IOPO paper, §TRACE evaluation): the LLM judge scores every constraint; an
 * instruction is followed only if every constraint passes. IF-S = instructions with ids 0-199
 * (single constraint), IF-M = the rest. A grader error is never a pass: an instruction with an
 * errored constraint and no failed one is "undetermined" and counts against accuracy; accuracy
 * over determined instructions only is reported beside it.
 */

export type TraceSubset = "IF-S" | "IF-M";

export const traceSubset = (id: string): TraceSubset => (/^\d+$/.test(id) && Number(id) <= 199 ? "IF-S" : "IF-M");

export interface TraceConstraintOutcome {
  dimension: string | null;
  type: string | null;
  status: "ok" | "error";
  passed: boolean | null;
}

export interface TraceItemOutcome {
  id: string;
  subset: TraceSubset;
  results: ReadonlyArray<TraceConstraintOutcome>;
}

export type TraceItemStatus = "followed" | "not_followed" | "undetermined";

export function traceItemStatus(results: ReadonlyArray<TraceConstraintOutcome>): TraceItemStatus {
  if (results.some((r) => r.status === "ok" && r.passed === false)) return "not_followed";
  if (results.some((r) => r.status === "error")) return "undetermined";
  return "followed";
}

export interface InstructionAccuracy {
  total: number;
  followed: number;
  not_followed: number;
  /** No constraint failed but at least one could not be judged. */
  undetermined: number;
  /** followed / total: an undetermined instruction counts as not followed. */
  accuracy: number;
  /** followed / (followed + not_followed). */
  accuracy_excluding_errors: number;
}

export interface ConstraintAccuracy {
  total: number;
  passed: number;
  failed: number;
  errors: number;
  /** passed / total. */
  accuracy: number;
}

export interface TraceReport {
  overall: InstructionAccuracy;
  if_s: InstructionAccuracy;
  if_m: InstructionAccuracy;
  constraints: ConstraintAccuracy;
  by_type: Record<string, ConstraintAccuracy>;
  by_dimension: Record<string, ConstraintAccuracy & { type: string | null }>;
  errors: { instructions: number; constraints: number; ids: string[] };
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

function instructionAccuracy(statuses: TraceItemStatus[]): InstructionAccuracy {
  const followed = statuses.filter((s) => s === "followed").length;
  const notFollowed = statuses.filter((s) => s === "not_followed").length;
  return {
    total: statuses.length,
    followed,
    not_followed: notFollowed,
    undetermined: statuses.length - followed - notFollowed,
    accuracy: ratio(followed, statuses.length),
    accuracy_excluding_errors: ratio(followed, followed + notFollowed),
  };
}

function tally(map: Map<string, ConstraintAccuracy>, key: string, r: TraceConstraintOutcome) {
  let t = map.get(key);
  if (!t) map.set(key, (t = { total: 0, passed: 0, failed: 0, errors: 0, accuracy: 0 }));
  t.total++;
  if (r.status === "error") t.errors++;
  else if (r.passed) t.passed++;
  else t.failed++;
  t.accuracy = ratio(t.passed, t.total);
}

const NONE = "(none)";

export function traceReport(items: ReadonlyArray<TraceItemOutcome>): TraceReport {
  const statuses = items.map((item) => ({ item, status: traceItemStatus(item.results) }));
  const all = new Map<string, ConstraintAccuracy>();
  const byType = new Map<string, ConstraintAccuracy>();
  const byDimension = new Map<string, ConstraintAccuracy>();
  const typeOf = new Map<string, string | null>();
  let errorConstraints = 0;
  const errorIds: string[] = [];
  for (const { item } of statuses) {
    let itemErrors = 0;
    for (const r of item.results) {
      tally(all, "all", r);
      tally(byType, r.type ?? NONE, r);
      const dim = r.dimension ?? NONE;
      tally(byDimension, dim, r);
      typeOf.set(dim, r.type);
      if (r.status === "error") itemErrors++;
    }
    errorConstraints += itemErrors;
    if (itemErrors > 0) errorIds.push(item.id);
  }
  const sorted = <T>(m: Map<string, T>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return {
    overall: instructionAccuracy(statuses.map((s) => s.status)),
    if_s: instructionAccuracy(statuses.filter((s) => s.item.subset === "IF-S").map((s) => s.status)),
    if_m: instructionAccuracy(statuses.filter((s) => s.item.subset === "IF-M").map((s) => s.status)),
    constraints: all.get("all") ?? { total: 0, passed: 0, failed: 0, errors: 0, accuracy: 0 },
    by_type: sorted(byType),
    by_dimension: sorted(new Map([...byDimension].map(([k, v]) => [k, { ...v, type: typeOf.get(k) ?? null }]))),
    errors: { instructions: errorIds.length, constraints: errorConstraints, ids: errorIds },
  };
}
