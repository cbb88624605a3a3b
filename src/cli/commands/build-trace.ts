import { ApiClient } from "@iopo/common";
import { apiConnection } from "../api-connection.ts";
import { parseCommandArgs, UsageError } from "@iopo/common/cli";
import { runRecordJob } from "../jobs.ts";

export const buildTraceUsage = `Usage: iopo build-trace --api <url> --key <key> --dataset <instructions> --target <name> [options]
  Builds TRACE-style instruction+response data from a dataset of simple instructions with the API's
  LLM provider: taxonomy-guided constraint expansion, structuring, quality control, a response, and
  the LLM judge (kept only if every constraint scores 10). The server's job queue runs the job; this
  command watches it live, then freezes the target as a new version. Ctrl-C detaches (the job goes
  on); re-attach with --job <id> or \`iopo jobs watch\`, stop it with \`iopo jobs cancel\`.
  Prints progress and a summary (counts, rejects by reason, tokens) on stderr, one JSON line on stdout.
  --seed <n>              seed of the dimension choices (default 0)
  --min-constraints <n>   fewest constraints per instruction (default 2)
  --max-constraints <n>   most constraints per instruction (default 5)
  --batch <n>             source records per batch (default 10)
  --token-budget <n>      pause the job once its model calls spent this many tokens
  --detach                start the job and return at once (no watching, no version)
  --no-version            do not freeze a version at the end
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

export async function runBuildTrace(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      dataset: { type: "string" },
      target: { type: "string" },
      seed: { type: "string" },
      "min-constraints": { type: "string" },
      "max-constraints": { type: "string" },
      batch: { type: "string" },
      job: { type: "string" },
      "token-budget": { type: "string" },
      detach: { type: "boolean" },
      "no-version": { type: "boolean" },
    },
    buildTraceUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const { base, key } = apiConnection(values);
  if (!base || !key || !values.dataset || (!values.target && !values.job)) {
    throw new UsageError("--api, --key, --dataset and --target (or --job) are required", buildTraceUsage);
  }
  const body: Record<string, unknown> = { target: values.target };
  const numbers: [string, string | undefined][] = [
    ["seed", values.seed],
    ["min_constraints", values["min-constraints"]],
    ["max_constraints", values["max-constraints"]],
    ["batch_size", values.batch],
    ["token_budget", values["token-budget"]],
  ];
  for (const [name, raw] of numbers) {
    if (raw === undefined) continue;
    if (!/^\d+$/.test(raw))
      throw new UsageError(`--${name.replace("_size", "").replaceAll("_", "-")} must be a whole number`, buildTraceUsage);
    body[name] = Number(raw);
  }
  const api = new ApiClient(base, { key });
  return runRecordJob(api, {
    dataset: values.dataset,
    kind: "build-trace",
    body,
    jobId: values.job,
    follow: !values.detach,
    freeze: !values["no-version"],
    target: values.target,
  });
}
