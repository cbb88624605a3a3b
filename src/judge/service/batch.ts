/**
 * POST /v1/judge/batch: many items judged in one request, as JSON (`{items}` in, `{results}` out)
 * or as NDJSON (one item a line in, one result a line out, streamed). Both paths read items the
 * same way and answer a failing item the same way, with its `{index, error: {status, errors}}`
 * entry in place of its verdict; only what the stream cannot do differs: once its 200 is sent, a
 * spent model-call budget refuses each item still to judge (the JSON path answers a 429 instead),
 * and an unexpected failure cuts the stream short (the JSON path answers a 500), so no client
 * mistakes a partial answer for a whole one.
 */
import { LIMITS, ndjsonLines } from "@iopo/common";
import { ProblemError, type FieldError } from "../../lib/problem.ts";
import { JudgeInputError } from "../index.ts";
import { LlmError } from "../llm/errors.ts";
import { judgeHybrid, needsLlm, validateRuleConstraints } from "../llm/hybrid.ts";
import type { LlmJudge } from "../llm/judge.ts";
import { checkDimensions, fieldErrors, itemWork, JudgeItemSchema, WORK_FORMULA, type JudgeItem } from "./item.ts";

type BatchResult = Record<string, unknown>;
/** A batch item read: valid (to judge), or already its error entry. */
type ReadItem = { index: number; item: JudgeItem } | { index: number; result: BatchResult };

const itemError = (index: number, status: number, errors: FieldError[], extra: Record<string, unknown> = {}): BatchResult => ({
  index,
  error: { status, errors, ...extra },
});

/** Schema and checker validation of one batch item; a bad item becomes its 422 entry. */
function readItem(value: unknown, index: number): ReadItem {
  const parsed = JudgeItemSchema.safeParse(value);
  if (!parsed.success) return { index, result: itemError(index, 422, fieldErrors("item", parsed.error.issues)) };
  try {
    validateRuleConstraints(parsed.data.constraints);
  } catch (error) {
    if (error instanceof JudgeInputError) return { index, result: itemError(index, 422, fieldErrors("item", error.issues)) };
    throw error;
  }
  return { index, item: parsed.data };
}

/** Items whose dimensions do not check out become their 422 entry. */
async function withCheckedDimensions(db: D1Database, read: ReadItem[]): Promise<ReadItem[]> {
  const valid = read.filter((r): r is { index: number; item: JudgeItem } => "item" in r);
  const issues = await checkDimensions(
    db,
    valid.map((r) => r.item),
  );
  const bad = new Map(valid.map((r, i) => [r.index, issues[i]!] as const).filter(([, list]) => list.length > 0));
  return read.map((r) => {
    const list = bad.get(r.index);
    return list ? { index: r.index, result: itemError(r.index, 422, fieldErrors("item", list)) } : r;
  });
}

function checkBatchSize(n: number) {
  if (n > LIMITS.judgeItems) throw new ProblemError(413, "payload-too-large", `At most ${LIMITS.judgeItems} items per batch; got ${n}.`);
  if (n === 0) throw new ProblemError(422, "validation", "The batch is empty.", [{ field: "body", message: "no items" }]);
}

/** The batch within its bounds: LLM items, and the work of its valid items (a rejected item costs nothing). */
function checkBatchCost(read: ReadItem[]) {
  const llmItems = read.filter((r) => "item" in r && needsLlm(r.item)).length;
  if (llmItems > LIMITS.judgeLlmItems) {
    throw new ProblemError(
      413,
      "payload-too-large",
      `At most ${LIMITS.judgeLlmItems} items with free-text constraints (judged by the LLM) per batch; got ${llmItems}. Split the batch.`,
    );
  }
  let work = 0;
  for (const r of read) if ("item" in r) work += itemWork(r.item);
  if (work > LIMITS.work.maxWorkPerRequest) {
    throw new ProblemError(
      413,
      "payload-too-large",
      `This batch costs ${work} character-checks, over the limit of ${LIMITS.work.maxWorkPerRequest} per request (max_work_per_request: ${WORK_FORMULA}). Split the batch.`,
      [{ field: "body", message: `at most ${LIMITS.work.maxWorkPerRequest} character-checks per request` }],
    );
  }
}

/** Reads, validates and bounds a batch's values (or the error entries of lines that are not JSON). */
async function readBatch(db: D1Database, values: ReadonlyArray<{ value: unknown } | { error: string }>): Promise<ReadItem[]> {
  checkBatchSize(values.length);
  const read = await withCheckedDimensions(
    db,
    values.map((v, index) =>
      "error" in v ? { index, result: itemError(index, 400, [{ field: "line", message: v.error }]) } : readItem(v.value, index),
    ),
  );
  checkBatchCost(read);
  return read;
}

/** An item's entry in the answer: its verdict, or the error entry it was read as. */
async function judgeRead(r: ReadItem, judge: LlmJudge): Promise<BatchResult> {
  if ("result" in r) return r.result;
  return { index: r.index, ...(await judgeHybrid(r.item, judge)) };
}

/** A JSON batch body (`{items: [...]}` or a bare array): every result, in input order. */
export async function judgeJsonBatch(db: D1Database, text: string, judge: LlmJudge): Promise<BatchResult[]> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(400, "malformed-json", `The request body is not valid JSON: ${(error as Error).message}`, [
      { field: "body", message: "not valid JSON" },
    ]);
  }
  const items = Array.isArray(body) ? body : (body as { items?: unknown })?.items;
  if (!Array.isArray(items)) {
    throw new ProblemError(422, "validation", "Send `{items: [...]}`, a JSON array of items, or NDJSON.", [
      { field: "body.items", message: "expected an array" },
    ]);
  }
  const read = await readBatch(
    db,
    items.map((value) => ({ value })),
  );
  // rule-only items finish at once; LLM calls queue on the request's concurrency cap
  return Promise.all(read.map((r) => judgeRead(r, judge)));
}

/**
 * An NDJSON batch body: its results as NDJSON, streamed in input order as they are judged, each
 * with the `line` it answers. Refusals of the batch as a whole (413, 422) come before the stream.
 */
export async function judgeNdjsonBatch(db: D1Database, text: string, judge: LlmJudge): Promise<ReadableStream<Uint8Array>> {
  const lines = ndjsonLines(text);
  const read = await readBatch(db, lines);
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // a few items per pull, judged concurrently, so the first results leave before the last are computed
      const chunk = read.slice(next, next + 16);
      next += chunk.length;
      const results = await Promise.all(
        chunk.map(async (r) => {
          const line = lines[r.index]!.line;
          try {
            return { line, ...(await judgeRead(r, judge)) };
          } catch (error) {
            if (!(error instanceof LlmError && error.kind === "budget")) {
              console.error("judge batch item failed", error);
              throw error;
            }
            return { line, ...itemError(r.index, 429, [{ field: "item", message: error.message }], { budget: error.options.budget }) };
          }
        }),
      );
      const out = results.map((r) => `${JSON.stringify(r)}\n`).join("");
      if (out) controller.enqueue(encoder.encode(out));
      if (next >= read.length) controller.close();
    },
  });
}
