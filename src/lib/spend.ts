/**
 * Spend budgets for model calls: every call the LLM judge, the compiler, the benchmarks and the
 * jobs make counts, with its tokens, against the budgets of a list of subjects, kept in D1
 * (`llm_spend`, one row per subject and UTC minute or day):
 *
 * - `{kind: "key", keyId}`: an API key (LLM_BUDGET_KEY, or the admin's limits for that key in
 *   `key_budgets`); a job running with no caller present passes its owner's key id;
 * - `{kind: "address", address}`: one anonymous client address (LLM_BUDGET_ADDRESS);
 * - `{kind: "anonymous"}`: the ceiling on all anonymous callers together (LLM_BUDGET_ANONYMOUS).
 *
 * A call is reserved before it is sent (its count goes up at once, so concurrent requests cannot
 * overshoot) and its tokens are charged when it returns; a call over any subject's budget is not
 * made and is taken back from the others, and the request ends with a 429 saying which budget,
 * its limits and when it frees up (`LlmError` kind "budget", rendered in src/app.ts).
 */
import { and, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Bindings } from "../env.ts";
import { keyBudgets, llmSpend } from "../db/schema.ts";
import { LlmError, type SpendGuard } from "../judge/llm/index.ts";
import type { Principal } from "./principal.ts";

export type SpendSubject = { kind: "key"; keyId: string } | { kind: "address"; address: string } | { kind: "anonymous" };

export const BUDGET_FIELDS = ["calls_per_minute", "calls_per_day", "tokens_per_minute", "tokens_per_day"] as const;
/** A subject's limits, one per field of BUDGET_FIELDS (the list the parsers and the admin route loop over). */
export type Budget = Record<(typeof BUDGET_FIELDS)[number], number>;

/** Used when the variable is unset or invalid (wrangler.toml sets each environment's own). */
export const DEFAULT_BUDGETS: Record<SpendSubject["kind"], Budget> = {
  key: { calls_per_minute: 120, calls_per_day: 5_000, tokens_per_minute: 1_000_000, tokens_per_day: 20_000_000 },
  address: { calls_per_minute: 20, calls_per_day: 500, tokens_per_minute: 200_000, tokens_per_day: 2_000_000 },
  anonymous: { calls_per_minute: 120, calls_per_day: 5_000, tokens_per_minute: 1_000_000, tokens_per_day: 20_000_000 },
};

/** The Worker variable holding each kind's default budget, as JSON with any of BUDGET_FIELDS. */
export const BUDGET_VARS = { key: "LLM_BUDGET_KEY", address: "LLM_BUDGET_ADDRESS", anonymous: "LLM_BUDGET_ANONYMOUS" } as const;

const PERIODS = ["minute", "day"] as const;
type Period = (typeof PERIODS)[number];

export const subjectId = (s: SpendSubject) =>
  s.kind === "key" ? `key:${s.keyId}` : s.kind === "address" ? `address:${s.address}` : "anonymous";

/**
 * Whom a caller's model calls count against: a key its own budget; an anonymous caller its
 * address's and the anonymous ceiling; the admin token (the operator) nothing.
 */
export function callerSubjects(principal: Principal, address: string | undefined): SpendSubject[] {
  if (principal.kind === "admin-token") return [];
  if (principal.kind === "key" && principal.keyId) return [{ kind: "key", keyId: principal.keyId }];
  return [{ kind: "address", address: address ?? "unknown" }, { kind: "anonymous" }];
}

/** A kind's default budget: its variable's fields over DEFAULT_BUDGETS (an invalid variable is logged and ignored). */
export function defaultBudget(env: Bindings, kind: SpendSubject["kind"]): Budget {
  const name = BUDGET_VARS[kind];
  const raw = env[name];
  const budget = { ...DEFAULT_BUDGETS[kind] };
  if (raw === undefined || raw.trim() === "") return budget;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    for (const field of BUDGET_FIELDS) {
      const value = parsed[field];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error(`${field} must be a non-negative integer`);
      budget[field] = value as number;
    }
  } catch (error) {
    console.error(`${name} is not a budget (${(error as Error).message}); using the built-in default`);
  }
  return budget;
}

/** The budget of one subject: for a key, the admin's limits where set, else the default. */
export async function budgetOf(env: Bindings, subject: SpendSubject): Promise<Budget> {
  const budget = defaultBudget(env, subject.kind);
  if (subject.kind !== "key") return budget;
  const row = await drizzle(env.DB).select().from(keyBudgets).where(eq(keyBudgets.keyId, subject.keyId)).get();
  if (!row) return budget;
  return {
    calls_per_minute: row.callsPerMinute ?? budget.calls_per_minute,
    calls_per_day: row.callsPerDay ?? budget.calls_per_day,
    tokens_per_minute: row.tokensPerMinute ?? budget.tokens_per_minute,
    tokens_per_day: row.tokensPerDay ?? budget.tokens_per_day,
  };
}

/** The windows `now` falls in, and the seconds until each ends. */
function windowsAt(now: Date): Record<Period, { start: string; endsInS: number }> {
  const iso = now.toISOString();
  const ms = now.getTime();
  return {
    minute: { start: iso.slice(0, 16), endsInS: Math.max(1, Math.ceil((60_000 - (ms % 60_000)) / 1000)) },
    day: { start: iso.slice(0, 10), endsInS: Math.max(1, Math.ceil((86_400_000 - (ms % 86_400_000)) / 1000)) },
  };
}

interface Used {
  calls: number;
  tokens: number;
}

export interface SpendStatus {
  subject: string;
  budget: Budget;
  used: Record<Period, Used>;
  remaining: Budget;
  /** Seconds until this minute's and this day's windows end. */
  resets_in_s: Record<Period, number>;
}

function status(subject: SpendSubject, budget: Budget, used: Record<Period, Used>, now: Date): SpendStatus {
  const w = windowsAt(now);
  const left = (limit: number, spent: number) => Math.max(0, limit - spent);
  return {
    subject: subjectId(subject),
    budget,
    used,
    remaining: {
      calls_per_minute: left(budget.calls_per_minute, used.minute.calls),
      calls_per_day: left(budget.calls_per_day, used.day.calls),
      tokens_per_minute: left(budget.tokens_per_minute, used.minute.tokens),
      tokens_per_day: left(budget.tokens_per_day, used.day.tokens),
    },
    resets_in_s: { minute: w.minute.endsInS, day: w.day.endsInS },
  };
}

/** What a subject has spent this minute and today, against its budget (GET /v1/keys/me). */
export async function spendStatus(env: Bindings, subject: SpendSubject, now = new Date()): Promise<SpendStatus> {
  const w = windowsAt(now);
  const orm = drizzle(env.DB);
  const [budget, ...rows] = await Promise.all([
    budgetOf(env, subject),
    ...PERIODS.map((period) =>
      orm
        .select({ calls: llmSpend.calls, tokens: llmSpend.tokens })
        .from(llmSpend)
        .where(and(eq(llmSpend.subject, subjectId(subject)), eq(llmSpend.period, period), eq(llmSpend.start, w[period].start)))
        .get(),
    ),
  ]);
  const used = { minute: rows[0] ?? { calls: 0, tokens: 0 }, day: rows[1] ?? { calls: 0, tokens: 0 } };
  return status(subject, budget as Budget, used, now);
}

/** Rows this old are deleted now and then (a fraction of reservations does it). */
const PRUNE_AFTER_DAYS = 2;
const PRUNE_PROBABILITY = 0.01;

/**
 * The SpendGuard of a list of subjects (every one must have budget left for a call to be made).
 * An empty list spends freely (the admin token). Budgets are read once per guard (one request).
 */
export function spendGuard(env: Bindings, subjects: readonly SpendSubject[]): SpendGuard {
  const orm = drizzle(env.DB);
  let budgets: Promise<Budget[]> | undefined;
  const rows = (now: Date) =>
    subjects.flatMap((subject) => PERIODS.map((period) => ({ subject, period, start: windowsAt(now)[period].start })));
  const add = (row: { subject: SpendSubject; period: Period; start: string }, calls: number, tokens: number) =>
    orm
      .insert(llmSpend)
      .values({ subject: subjectId(row.subject), period: row.period, start: row.start, calls: Math.max(0, calls), tokens })
      .onConflictDoUpdate({
        target: [llmSpend.subject, llmSpend.period, llmSpend.start],
        set: { calls: sql`${llmSpend.calls} + ${calls}`, tokens: sql`${llmSpend.tokens} + ${tokens}` },
      })
      .returning({ calls: llmSpend.calls, tokens: llmSpend.tokens });

  return {
    async reserve() {
      if (subjects.length === 0) return;
      const now = new Date();
      const limits = await (budgets ??= Promise.all(subjects.map((s) => budgetOf(env, s))));
      const targets = rows(now);
      const [first, ...rest] = targets.map((row) => add(row, 1, 0));
      const counted = (await orm.batch([first!, ...rest])).map((r) => r[0]!);
      // rows come subject by subject, PERIODS in order; this call is counted in them
      const spending = subjects.map((subject, i) => ({
        subject,
        budget: limits[i]!,
        used: Object.fromEntries(PERIODS.map((period, p) => [period, counted[i * PERIODS.length + p]!])) as Record<Period, Used>,
      }));
      const over = spending.flatMap((x) =>
        PERIODS.filter((period) => exceeds(x.budget, period, x.used[period])).map((period) => ({ ...x, period })),
      );
      if (over.length === 0) {
        if (Math.random() < PRUNE_PROBABILITY) {
          const cutoff = new Date(now.getTime() - PRUNE_AFTER_DAYS * 86_400_000).toISOString().slice(0, 10);
          await orm.delete(llmSpend).where(lt(llmSpend.start, cutoff));
        }
        return;
      }
      // not made: take the call back everywhere, so a refused caller uses up nobody's budget
      const [undo, ...more] = targets.map((row) => add(row, -1, 0));
      await orm.batch([undo!, ...more]);
      const { subject, budget, used, period } = over[0]!;
      for (const p of PERIODS) used[p] = { calls: used[p].calls - 1, tokens: used[p].tokens };
      const spent = status(subject, budget, used, now);
      const limit = limitsOf(budget, period);
      const retryAfterS = spent.resets_in_s[period];
      throw new LlmError(
        "budget",
        `The model-call budget of ${describe(subject)} is spent for this ${period === "minute" ? "minute" : "day (UTC)"}: ` +
          `${used[period].calls} of ${limit.calls} calls and ${used[period].tokens} of ${limit.tokens} tokens used. ` +
          `Retry after ${retryAfterS} s; GET /v1/keys/me shows budgets and what is left.`,
        { retryable: false, retryAfterMs: retryAfterS * 1000, budget: { ...spent, period } },
      );
    },
    async charge(tokens) {
      if (subjects.length === 0 || tokens <= 0) return;
      const [first, ...rest] = rows(new Date()).map((row) => add(row, 0, tokens));
      await orm.batch([first!, ...rest]);
    },
  };
}

const limitsOf = (budget: Budget, period: Period) =>
  period === "minute"
    ? { calls: budget.calls_per_minute, tokens: budget.tokens_per_minute }
    : { calls: budget.calls_per_day, tokens: budget.tokens_per_day };

/** Whether `used` (this call counted) is beyond the budget: one call too many, or no tokens left. */
function exceeds(budget: Budget, period: Period, used: Used): boolean {
  const limit = limitsOf(budget, period);
  return used.calls > limit.calls || used.tokens >= limit.tokens;
}

const describe = (s: SpendSubject) =>
  s.kind === "key" ? "this API key" : s.kind === "address" ? "this client address" : "all anonymous callers together";
