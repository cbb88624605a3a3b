/** CFBench scoring of a request's items: each judged by the LLM judge, then scored per split as the reference does. */
import { LIMITS } from "@iopo/common";
import type { LlmJudge } from "../../judge/llm/index.ts";
import { ProblemError } from "../../lib/problem.ts";
import { usageMeter, withUsage } from "../../pipelines/llm.ts";
import { readSubmissions } from "../submissions.ts";
import { CFBENCH_PROMPT_VERSION, CfbenchSubmissionSchema, judgeCfbenchItem } from "./judge.ts";
import { aggregate } from "./score.ts";

export async function scoreCfbench(base: LlmJudge, request: { cache: "use" | "bypass"; body: string; isJson: boolean }) {
  const items = readSubmissions(request.body, request.isJson, CfbenchSubmissionSchema, {
    max: LIMITS.cfbenchItems,
    noun: "items",
    command: "npx iopo cfbench",
    keyField: "idx",
  }).map((s) => s.value);

  if (!base.config.provider)
    throw new ProblemError(503, "service-unavailable", `CFBench scoring needs the LLM judge, and ${base.config.unavailableReason}.`);
  const meter = usageMeter();
  const judge = withUsage(base, meter);
  const verdicts = await Promise.all(items.map((item) => judgeCfbenchItem(judge, item, request.cache)));
  const { provider } = judge.config;
  return {
    report: {
      ...aggregate(verdicts.map((v) => ({ split: v.split, metric: v }))),
      judge_errors: verdicts.filter((v) => v.judge_error).length,
      judge: { provider: provider!.kind, model: provider!.model, prompt_version: CFBENCH_PROMPT_VERSION },
      usage: meter.totals,
    },
    verdicts,
  };
}
