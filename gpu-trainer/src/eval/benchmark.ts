/**
 * Benchmarks: which prompts to answer (from the judge's dataset API) and how the answers are
 * scored (by the judge's API), with one metrics shape for all of them.
 *
 *   ifeval, ifbench   dataset of the same name (or --dataset); POST /v1/benchmarks/<suite>/score
 *                     (responses matched by key, else by prompt); strict and loose, prompt- and
 *                     instruction-level
 *   trace             dataset trace-eval; POST /v1/benchmarks/trace/score in batches of
 *                     LIMITS.traceItems (the LLM judge); IF-S (ids 0-199), IF-M (the rest),
 *                     constraint accuracy
 *   <dataset name>    its instruction (or sft) records with constraints; POST /v1/judge/batch,
 *                     mode both (checker constraints exactly; free-text ones by the LLM judge);
 *                     IF-S / IF-M = prompt-level strict accuracy on the single- / multi-constraint
 *                     instructions, plus prompt- and instruction-level strict and loose
 */
import { type ApiClient, ApiError, type JudgeVerdict, LIMITS, judgementWork } from "@iopo/common";
import { type Instruction, instructionOfRow, renderPrompt } from "./prompt.ts";

/** Judging and scoring change nothing on the API (verdicts are cached), so transient failures are retried. */
const SCORING = { idempotent: true } as const;

export type BenchmarkKind = "ifeval" | "ifbench" | "trace" | "custom";

export interface EvalItem {
  /** Position in the benchmark (dataset row order). */
  index: number;
  /** What the score route matches the response by. */
  ref: { key?: number; prompt?: string; id?: string };
  /** The user prompt given to the model, and its system prompt if any. */
  prompt: string;
  system?: string;
  /** Custom datasets: the constraints the judge checks. */
  instruction?: Instruction;
  constraints: number;
}

export interface Benchmark {
  name: string;
  kind: BenchmarkKind;
  dataset: string;
  items: EvalItem[];
  /** Records that could not be evaluated (no instruction, no constraint), by reason. */
  skipped: Record<string, number>;
}

export interface Accuracy {
  correct: number;
  total: number;
  accuracy: number;
}

/** The figures every benchmark reports (those a benchmark has no notion of are absent). */
export interface EvalMetrics {
  items: number;
  prompt_strict?: Accuracy;
  prompt_loose?: Accuracy;
  instruction_strict?: Accuracy;
  instruction_loose?: Accuracy;
  /** Single-constraint instructions followed (TRACE: ids 0-199; custom: one constraint). */
  if_s?: Accuracy;
  /** Multi-constraint instructions followed. */
  if_m?: Accuracy;
  /** TRACE / free text: constraints the judge could not grade (counted as failures). */
  grader_errors?: number;
}

export interface ScoredItem {
  index: number;
  /** Prompt-level, strict. */
  followed: boolean;
  verdict: Record<string, unknown>;
}

export interface Scored {
  metrics: EvalMetrics;
  items: ScoredItem[];
  /** The API's own report (ifeval/ifbench: as returned; trace: per batch). */
  apiReport?: unknown;
}

const acc = (correct: number, total: number): Accuracy => ({ correct, total, accuracy: total ? correct / total : 0 });

export function benchmarkKind(name: string): BenchmarkKind {
  return name === "ifeval" || name === "ifbench" || name === "trace" ? name : "custom";
}

/** Fetch a benchmark's prompts. `dataset` overrides the stored set's name (ifeval, ifbench, trace-eval). */
export async function loadBenchmark(api: ApiClient, name: string, opts: { dataset?: string; limit?: number } = {}): Promise<Benchmark> {
  const kind = benchmarkKind(name);
  const dataset = opts.dataset ?? (kind === "trace" ? "trace-eval" : name);
  const rows = await api.datasetRows(dataset);
  const items: EvalItem[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  for (const r of rows) {
    const ins = instructionOfRow(r.row);
    if (!ins) {
      skip(`${String(r.row.kind)} record`);
      continue;
    }
    const meta = (r.row.meta ?? {}) as Record<string, unknown>;
    const base = { index: items.length, prompt: renderPrompt(ins), ...(ins.system !== undefined ? { system: ins.system } : {}) };
    if (kind === "ifeval" || kind === "ifbench") {
      const checked = ins.constraints.filter((c) => c.checker);
      if (!checked.length) {
        skip("no checker constraints");
        continue;
      }
      const ref = typeof meta.key === "number" ? { key: meta.key } : { prompt: ins.prompt ?? ins.description };
      items.push({ ...base, ref, constraints: checked.length });
    } else if (kind === "trace") {
      if (meta.id === undefined) {
        skip("no meta.id");
        continue;
      }
      items.push({ ...base, ref: { id: String(meta.id) }, constraints: ins.constraints.length });
    } else {
      if (!ins.constraints.length) {
        skip("no constraints");
        continue;
      }
      items.push({ ...base, ref: { id: r.id }, instruction: ins, constraints: ins.constraints.length });
    }
    if (opts.limit !== undefined && items.length >= opts.limit) break;
  }
  return { name, kind, dataset, items, skipped };
}

type FollowList = { follow_all_instructions: boolean; follow_instruction_list: boolean[] };

/** Send the responses (one per item, same order) to the judge and compute the metrics. */
export async function scoreBenchmark(api: ApiClient, b: Benchmark, responses: readonly string[]): Promise<Scored> {
  if (responses.length !== b.items.length) throw new Error(`scoreBenchmark: ${responses.length} responses for ${b.items.length} items`);
  if (!b.items.length) return { metrics: { items: 0 }, items: [] };
  switch (b.kind) {
    case "ifeval":
    case "ifbench":
      return scoreVerifiable(api, b, responses);
    case "trace":
      return scoreTrace(api, b, responses);
    case "custom":
      return scoreCustom(api, b, responses);
  }
}

async function scoreVerifiable(api: ApiClient, b: Benchmark, responses: readonly string[]): Promise<Scored> {
  const items: ScoredItem[] = [];
  const reports: unknown[] = [];
  const n = { ps: 0, pl: 0, is: 0, il: 0, it: 0 };
  for (let i = 0; i < b.items.length; i += LIMITS.verifiableItems) {
    const chunk = b.items.slice(i, i + LIMITS.verifiableItems);
    const ans = await api.postNdjson<{
      report: unknown;
      verdicts: (Record<string, unknown> & { line: number; strict: FollowList; loose: FollowList })[];
    }>(
      `/v1/benchmarks/${b.kind}/score?dataset=${encodeURIComponent(b.dataset)}`,
      chunk.map((it, k) => ({ ...it.ref, response: responses[i + k] })),
      SCORING,
    );
    reports.push(ans.report);
    for (const v of ans.verdicts) {
      const item = chunk[v.line - 1];
      const s = v.strict.follow_instruction_list;
      const l = v.loose.follow_instruction_list;
      n.ps += s.every(Boolean) ? 1 : 0;
      n.pl += l.every(Boolean) ? 1 : 0;
      n.is += s.filter(Boolean).length;
      n.il += l.filter(Boolean).length;
      n.it += s.length;
      items.push({ index: item.index, followed: s.every(Boolean), verdict: v });
    }
  }
  const total = items.length;
  return {
    metrics: {
      items: total,
      prompt_strict: acc(n.ps, total),
      prompt_loose: acc(n.pl, total),
      instruction_strict: acc(n.is, n.it),
      instruction_loose: acc(n.il, n.it),
    },
    items,
    apiReport: reports.length === 1 ? reports[0] : reports,
  };
}

/**
 * TRACE needs the API's LLM judge: ask once, with the first item and an empty response, before
 * spending time on generation (503 with the reason when no judge is configured).
 */
export async function preflightTrace(api: ApiClient, b: Benchmark): Promise<void> {
  try {
    await api.postNdjson(
      `/v1/benchmarks/trace/score?dataset=${encodeURIComponent(b.dataset)}`,
      [{ id: b.items[0].ref.id, response: "" }],
      SCORING,
    );
  } catch (e) {
    if (e instanceof ApiError && e.status === 503)
      throw new ApiError(`TRACE needs the judge's LLM: ${e.message} (configure LLM_* on the API; see README "LLM judge")`, 503);
    throw e;
  }
}

async function scoreTrace(api: ApiClient, b: Benchmark, responses: readonly string[]): Promise<Scored> {
  const items: ScoredItem[] = [];
  const reports: unknown[] = [];
  const s = [0, 0];
  const m = [0, 0];
  let cPass = 0;
  let cTotal = 0;
  let errors = 0;
  for (let i = 0; i < b.items.length; i += LIMITS.traceItems) {
    const chunk = b.items.slice(i, i + LIMITS.traceItems);
    const ans = await api.postNdjson<{
      report: unknown;
      verdicts: (Record<string, unknown> & {
        line: number;
        subset: string;
        status: string;
        errors: number;
        results: { passed: boolean | null }[];
      })[];
    }>(
      `/v1/benchmarks/trace/score?dataset=${encodeURIComponent(b.dataset)}`,
      chunk.map((it, k) => ({ id: it.ref.id, response: responses[i + k] })),
      SCORING,
    );
    reports.push(ans.report);
    for (const v of ans.verdicts) {
      const item = chunk[v.line - 1];
      const followed = v.status === "followed";
      const tally = v.subset === "IF-S" ? s : m;
      tally[0] += followed ? 1 : 0;
      tally[1]++;
      cPass += v.results.filter((r) => r.passed === true).length;
      cTotal += v.results.length;
      errors += v.errors;
      items.push({ index: item.index, followed, verdict: v });
    }
  }
  return {
    metrics: {
      items: items.length,
      if_s: acc(s[0], s[1]),
      if_m: acc(m[0], m[1]),
      prompt_strict: acc(s[0] + m[0], s[1] + m[1]),
      instruction_strict: acc(cPass, cTotal),
      grader_errors: errors,
    },
    items,
    apiReport: reports,
  };
}

async function scoreCustom(api: ApiClient, b: Benchmark, responses: readonly string[]): Promise<Scored> {
  const toItem = (it: EvalItem, response: string) => {
    const ins = it.instruction!;
    const constraints = ins.constraints.map((c) =>
      c.checker
        ? { id: c.checker.id, kwargs: c.checker.kwargs ?? {} }
        : { text: c.text, ...(c.dimension !== undefined ? { dimension: c.dimension } : {}) },
    );
    const llm = ins.constraints.some((c) => !c.checker);
    return {
      body: { response, constraints, mode: "both", ...(llm ? { instruction: it.prompt } : {}) },
      llm,
      work: judgementWork(response.length, constraints, "both"),
    };
  };
  const all = b.items.map((it, i) => ({ it, ...toItem(it, responses[i]) }));
  const items: ScoredItem[] = [];
  // batches within the route's bounds (items, items with free-text constraints, work per request);
  // an item over the work budget alone goes alone, and the judge says why
  let i = 0;
  while (i < all.length) {
    const chunk: typeof all = [];
    let llm = 0;
    let work = 0;
    while (
      i < all.length &&
      chunk.length < LIMITS.judgeItems &&
      llm + (all[i].llm ? 1 : 0) <= LIMITS.judgeLlmItems &&
      (chunk.length === 0 || work + all[i].work <= LIMITS.work.maxWorkPerRequest)
    ) {
      llm += all[i].llm ? 1 : 0;
      work += all[i].work;
      chunk.push(all[i++]);
    }
    const ans = await api.postJson<{
      results: (Record<string, unknown> & {
        index: number;
        error?: unknown;
        strict?: JudgeVerdict;
        loose?: JudgeVerdict;
        followed_all?: boolean;
      })[];
    }>("/v1/judge/batch", { items: chunk.map((c) => c.body) }, SCORING);
    for (const r of ans.results) {
      const c = chunk[r.index];
      if (r.error) throw new Error(`the judge refused item ${c.it.index} (${c.it.ref.id}): ${JSON.stringify(r.error)}`);
      items.push({ index: c.it.index, followed: r.strict!.followed_all, verdict: r });
    }
  }
  const byIndex = new Map(b.items.map((it) => [it.index, it]));
  const t = { ps: 0, pl: 0, is: 0, il: 0, it: 0, s: [0, 0], m: [0, 0], errors: 0 };
  for (const x of items) {
    const v = x.verdict as unknown as { errors: number; strict: JudgeVerdict; loose: JudgeVerdict };
    t.ps += v.strict.followed_all ? 1 : 0;
    t.pl += v.loose.followed_all ? 1 : 0;
    t.is += v.strict.results.filter((r) => r.passed === true).length;
    t.il += v.loose.results.filter((r) => r.passed === true).length;
    t.it += v.strict.results.length;
    t.errors += v.errors ?? 0;
    const sub = byIndex.get(x.index)!.constraints === 1 ? t.s : t.m;
    sub[0] += v.strict.followed_all ? 1 : 0;
    sub[1]++;
  }
  const n = items.length;
  return {
    metrics: {
      items: n,
      if_s: acc(t.s[0], t.s[1]),
      if_m: acc(t.m[0], t.m[1]),
      prompt_strict: acc(t.ps, n),
      prompt_loose: acc(t.pl, n),
      instruction_strict: acc(t.is, t.it),
      instruction_loose: acc(t.il, t.it),
      ...(t.errors ? { grader_errors: t.errors } : {}),
    },
    items,
  };
}

/** One line per figure, percentages. */
export function formatMetrics(m: EvalMetrics): string {
  const pct = (a?: Accuracy) => (a ? `${(a.accuracy * 100).toFixed(1).padStart(5)}%  (${a.correct}/${a.total})` : undefined);
  const lines: string[] = [];
  const add = (label: string, a?: Accuracy) => {
    const p = pct(a);
    if (p && a!.total) lines.push(`  ${label.padEnd(24)}${p}`);
  };
  add("IF-S", m.if_s);
  add("IF-M", m.if_m);
  add("prompt-level strict", m.prompt_strict);
  add("prompt-level loose", m.prompt_loose);
  add("instruction-level strict", m.instruction_strict);
  add("instruction-level loose", m.instruction_loose);
  if (m.grader_errors) lines.push(`  grader errors           ${m.grader_errors} constraint(s), counted as not followed`);
  return lines.join("\n") + "\n";
}
