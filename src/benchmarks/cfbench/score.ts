/**
 * CFBench scoring as its reference evaluation computes it (code/evalaute.py of
 * PKU-Baichuan-MLSystemLab/CFBench), re-implemented: the judge answers one line per criterion,
 * "<criterion>\t<0|1>", lines separated by a blank line; the answer is parsed strictly, or (after
 * the reference's retries) leniently; each item gets CSR, ISR and PSR; splits are averaged.
 *
 * The reference's numerics are numpy's: means are numpy pairwise sums divided by n, and
 * `round(x, 2)` is numpy's (x * 100, round half to even, / 100). Both are reproduced here so that
 * replayed judge files give the reference's numbers to the last digit.
 */

export const CFBENCH_PRIORITIES = ["主需", "次需"] as const;
export type CfbenchPriority = (typeof CFBENCH_PRIORITIES)[number];
export const CFBENCH_SPLITS = ["easy", "hard"] as const;

/**
 * How the judge's answer was read, as the reference's `judge_parsing`: "1" strict (one line per
 * criterion, in order, each naming its criterion verbatim); "0" only the lenient fallback found
 * scores; "-1" nothing usable (the item scores 0 everywhere).
 */
export type JudgeParsing = "1" | "0" | "-1";

export interface CfbenchMetric {
  CSR: number;
  ISR: 0 | 1;
  PSR: 0 | 1;
}

export interface ParsedJudgement {
  parsing: JudgeParsing;
  /** The 0/1 scores as the reference keeps them (strings, e.g. "1" or "1.0"). */
  scores: string[];
}

// --- numpy/Python numerics ---------------------------------------------------------------------

/** numpy's pairwise summation of float64 (what `np.mean` and `np.sum` use for contiguous arrays). */
export function pairwiseSum(values: readonly number[], start = 0, n = values.length): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i]!;
    return res;
  }
  if (n <= 128) {
    const r = values.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j]! += values[start + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += values[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(values, start, n2) + pairwiseSum(values, start + n2, n - n2);
}

/** `np.mean`: NaN for an empty list (numpy warns and returns nan). */
export const npMean = (values: readonly number[]): number => (values.length === 0 ? NaN : pairwiseSum(values) / values.length);

/** Round half to even, as C's rint. */
function rint(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** numpy's `round(x, 2)`: rint(x * 100) / 100. */
export const npRound2 = (x: number): number => rint(x * 100) / 100;

/**
 * Python's `float(str)` for the strings a judge writes: surrounding whitespace, a sign, digits
 * with single underscores between them, a fraction, an exponent, inf/nan, fullwidth digits. Returns undefined where Python raises ValueError.
 */
export function pythonFloat(text: string): number | undefined {
  // Python also reads other scripts' decimal digits; of those, a judge writing Chinese uses fullwidth ones
  const digits = text.replace(/[\uff10-\uff19]/g, (d) => String(d.charCodeAt(0) - 0xff10));
  const s = digits.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, "");
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) return special[2]!.toLowerCase() === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity;
  const d = "\\d(?:_?\\d)*";
  if (!new RegExp(`^[+-]?(?:${d}(?:\\.(?:${d})?)?|\\.${d})(?:[eE][+-]?${d})?$`).test(s)) return undefined;
  return Number(s.replaceAll("_", ""));
}

// --- parsing the judge's answer ----------------------------------------------------------------

/**
 * The strict reading (the reference's `_get_judge_scores`): blocks split on "\n\n", one per
 * criterion; each exactly "<criterion>\t<score>" with the criterion verbatim and the score 0 or 1.
 * Returns null where the reference would retry the judge (or fall back).
 */
export function strictScores(judgeResponse: string, criteria: readonly string[]): string[] | null {
  const blocks = judgeResponse.split("\n\n");
  if (blocks.length !== criteria.length) return null;
  const scores: string[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const parts = blocks[i]!.split("\t");
    if (parts.length !== 2 || parts[0] !== criteria[i]) return null;
    const value = pythonFloat(parts[1]!);
    if (value !== 0 && value !== 1) return null;
    scores.push(pythonStrip(parts[1]!));
  }
  // an empty list is falsy in the reference: it counts as a failed parse
  return scores.length > 0 ? scores : null;
}

/**
 * The lenient reading (the reference's `_get_judge_scores_guaranteed`), used once the judge's
 * retries are spent: every "\n"-separated line with exactly one tab whose score is truthy and in
 * {0, 1}, i.e. only the 1s. (The reference crashes on a non-numeric score there; it is skipped.)
 */
export function lenientScores(judgeResponse: string): string[] {
  const scores: string[] = [];
  for (const line of judgeResponse.split("\n")) {
    const parts = line.split("\t");
    if (parts.length !== 2) continue;
    const value = pythonFloat(parts[1]!);
    if (value === 1) scores.push(pythonStrip(parts[1]!));
  }
  return scores;
}

const pythonStrip = (s: string) => s.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/gu, "");

/** Strict reading, else the lenient fallback, else nothing ("-1": one score "0"). */
export function parseJudgement(judgeResponse: unknown, criteria: readonly string[]): ParsedJudgement {
  if (typeof judgeResponse !== "string") return { parsing: "-1", scores: ["0"] };
  const strict = strictScores(judgeResponse, criteria);
  if (strict) return { parsing: "1", scores: strict };
  const lenient = lenientScores(judgeResponse);
  return lenient.length > 0 ? { parsing: "0", scores: lenient } : { parsing: "-1", scores: ["0"] };
}

// --- metrics -----------------------------------------------------------------------------------

/**
 * One item's CSR (mean criterion score, rounded to 2 places), ISR (every criterion met) and PSR:
 * 0 when the answer could not be parsed; with the lenient fallback, CSR > 0.8; otherwise 0 if any
 * primary (主需) criterion failed, else CSR > 0.8 when all are secondary (次需), 1 when all are
 * primary, and 0.5 + 0.5 x round(mean(secondary), 2) > 0.8 when mixed.
 */
export function itemMetric(parsed: ParsedJudgement, priorities: readonly CfbenchPriority[]): CfbenchMetric {
  const scores = parsed.scores.map((s) => pythonFloat(s) ?? NaN);
  const csr = npRound2(npMean(scores));
  const ISR = csr < 1 ? 0 : 1;
  let PSR: 0 | 1;
  if (parsed.parsing === "-1") PSR = 0;
  else if (parsed.parsing === "0") PSR = csr > 0.8 ? 1 : 0;
  else {
    if (priorities.length !== scores.length) throw new Error(`${scores.length} scores for ${priorities.length} criteria`);
    const primary = scores.filter((_, i) => priorities[i] === "主需");
    const secondary = scores.filter((_, i) => priorities[i] === "次需");
    if (primary.includes(0)) PSR = 0;
    else if (primary.length === 0) PSR = csr > 0.8 ? 1 : 0;
    else if (primary.length === scores.length) PSR = 1;
    else PSR = 0.5 + 0.5 * npRound2(npMean(secondary)) > 0.8 ? 1 : 0;
  }
  return { CSR: csr, ISR, PSR };
}

export interface CfbenchAggregate {
  CSR: number | null;
  ISR: number | null;
  PSR: number | null;
  items: number;
}

export interface CfbenchScores {
  easy: CfbenchAggregate;
  hard: CfbenchAggregate;
  full: CfbenchAggregate;
}

/** Means over the items of each split and over all, rounded to 2 places (null for an empty split, numpy's nan). */
export function aggregate(items: ReadonlyArray<{ split: string; metric: CfbenchMetric }>): CfbenchScores {
  const of = (list: ReadonlyArray<{ metric: CfbenchMetric }>): CfbenchAggregate => {
    const mean = (key: keyof CfbenchMetric) => {
      const value = npRound2(npMean(list.map((i) => i.metric[key])));
      return Number.isNaN(value) ? null : value;
    };
    return { CSR: mean("CSR"), ISR: mean("ISR"), PSR: mean("PSR"), items: list.length };
  };
  return { easy: of(items.filter((i) => i.split === "easy")), hard: of(items.filter((i) => i.split === "hard")), full: of(items) };
}

export interface ReplayItem {
  idx: unknown;
  split: string;
  criteria: ReadonlyArray<readonly [string, string, ...unknown[]]>;
  judge_response: unknown;
}

/** Re-scores one recorded judgement (an item of the reference's output/judge/*_eval.json). */
export function scoreRecorded(item: ReplayItem): { parsed: ParsedJudgement; metric: CfbenchMetric } {
  const parsed = parseJudgement(
    item.judge_response,
    item.criteria.map((c) => c[0]),
  );
  return {
    parsed,
    metric: itemMetric(
      parsed,
      item.criteria.map((c) => c[1] as CfbenchPriority),
    ),
  };
}
