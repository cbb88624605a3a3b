import { ApiClient } from "@iopo/common";
import { apiConnection } from "../api-connection.ts";
import { parseCommandArgs, UsageError } from "@iopo/common/cli";
import { runRecordJob } from "../jobs.ts";

export const buildQuadruplesUsage = `Usage: iopo build-quadruples --api <url> --key <key> --dataset <sft-source> --target <name> [options]
  Builds IOPO quadruples from the source's sft records through the dataset API's job, then freezes
  the target as a new version. Records with verifiable constraints take the rule path (no LLM); with
  --llm, records with free-text constraints take the LLM path (edit x1 into x2, judge, answer x2,
  judge, final check) on the API's configured provider. The server's job queue runs the job; this
  command watches it live. Ctrl-C detaches (the job goes on); re-attach with --job <id> or
  \`iopo jobs watch\`, stop it with \`iopo jobs cancel\`.
  Prints progress and a summary (counts, rejects by reason, tokens) on stderr, one JSON line on stdout.
  --llm                     use the LLM path for free-text constraints
  --ops add,delete,revise   operations to use (default all)
  --seed <n>                seed of every choice (default 0)
  --batch <n>               source records per batch (default 50)
  --token-budget <n>        pause the job once its model calls spent this many tokens
  --detach                  start the job and return at once (no watching, no version)
  --no-version              do not freeze a version at the end
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

export async function runBuildQuadruples(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      dataset: { type: "string" },
      target: { type: "string" },
      ops: { type: "string" },
      seed: { type: "string" },
      batch: { type: "string" },
      job: { type: "string" },
      llm: { type: "boolean" },
      "token-budget": { type: "string" },
      detach: { type: "boolean" },
      "no-version": { type: "boolean" },
    },
    buildQuadruplesUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const { base, key } = apiConnection(values);
  if (!base || !key || !values.dataset || (!values.target && !values.job)) {
    throw new UsageError("--api, --key, --dataset and --target (or --job) are required", buildQuadruplesUsage);
  }
  const body: Record<string, unknown> = { target: values.target };
  if (values.ops) body.ops = values.ops.split(",").map((s) => s.trim());
  if (values.seed) body.seed = Number(values.seed);
  if (values.batch) body.batch_size = Number(values.batch);
  if (values.llm) body.llm = true;
  if (values["token-budget"]) body.token_budget = Number(values["token-budget"]);
  const api = new ApiClient(base, { key });
  return runRecordJob(api, {
    dataset: values.dataset,
    kind: "build-quadruples",
    body,
    jobId: values.job,
    follow: !values.detach,
    freeze: !values["no-version"],
    target: values.target,
  });
}
