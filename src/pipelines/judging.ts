import type { LlmResult, RecordVerdict } from "@iopo/common";
import { renderPrompt, type Instruction } from "../datasets/records.ts";
import { judgeHybrid, LlmError, PROMPT_VERSION, type HybridConstraint, type LlmJudge } from "../judge/llm/index.ts";

/**
 * The pipelines' judge of (instruction, response): verifiable constraints by their checkers,
 * free-text ones by the LLM judge (one cached call), `pass_score` 10 as TRACE keeps data. A
 * constraint the judge could not grade interrupts the job (LlmError): it is an outage, not a
 * verdict, and must not become a reject.
 */
export async function judgeInstruction(judge: LlmJudge, instruction: Instruction, response: string): Promise<RecordVerdict> {
  const constraints: HybridConstraint[] = instruction.constraints.map((c) =>
    c.checker
      ? { id: c.checker.id, kwargs: c.checker.kwargs }
      : c.dimension !== undefined
        ? { text: c.text, dimension: c.dimension }
        : { text: c.text },
  );
  const verdict = await judgeHybrid(
    { response, instruction: renderPrompt(instruction), constraints, mode: "strict", pass_score: 10 },
    judge,
  );
  if (verdict.errors > 0) {
    const failed = verdict.results.find((r): r is LlmResult => r.kind === "llm" && r.status === "error");
    throw new LlmError("unavailable", `judge (${PROMPT_VERSION}): could not grade a constraint: ${failed?.reason ?? "unknown"}`, {
      retryable: false,
    });
  }
  const model = judge.config.provider?.model ?? "none";
  const hasText = instruction.constraints.some((c) => !c.checker);
  return {
    followed_all: verdict.followed_all,
    // whether a verdict came from the cache is about this run, not the data: a resumed job must
    // store the very records an uninterrupted one would
    results: verdict.results.map((r) => {
      if (r.kind !== "llm") return r;
      const { cached: _cached, ...rest } = r;
      return rest;
    }),
    judge: hasText ? `hybrid:strict+llm:${model}/${PROMPT_VERSION}` : "rule:strict",
  };
}

/** One model stage of a pipeline: its failure names the stage and its prompt version (a job's error then says where it stopped). */
export async function stage<T>(name: string, promptVersion: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof LlmError)) throw error;
    const named = new LlmError(error.kind, `${name} (${promptVersion}): ${error.message}`, error.options);
    named.attempts = error.attempts;
    throw named;
  }
}
