import { ApiClient } from "@iopo/common";
import { parseCommandArgs, UsageError } from "@iopo/common/cli";
import { apiConnection } from "../api-connection.ts";
import { formatJobSummary, watchJob } from "../jobs.ts";

export const jobsUsage = `Usage: iopo jobs <watch|pause|resume|cancel> --api <url> --key <key> --dataset <name> --job <id>
  watch    follow a job's live progress until it ends (Ctrl-C detaches; the job goes on)
  pause    stop sending model calls; the job keeps its place (resume goes on from there)
  resume   go on with a paused (or failed) job, then watch it; --token-budget <n> raises its budget
  cancel   stop the job for good (what it produced stays)
  --dataset is the job's source or target dataset. IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

const ACTIONS = ["watch", "pause", "resume", "cancel"] as const;

export async function runJobs(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      dataset: { type: "string" },
      job: { type: "string" },
      "token-budget": { type: "string" },
    },
    jobsUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const action = positionals[0] as (typeof ACTIONS)[number] | undefined;
  if (!action || !ACTIONS.includes(action)) throw new UsageError(`say what to do: ${ACTIONS.join(", ")}`, jobsUsage);
  const { base, key } = apiConnection(values);
  if (!base || !key || !values.dataset || !values.job) throw new UsageError("--api, --key, --dataset and --job are required", jobsUsage);
  const budget = values["token-budget"];
  if (budget !== undefined && !/^\d+$/.test(budget)) throw new UsageError("--token-budget must be a whole number", jobsUsage);
  const api = new ApiClient(base, { key });
  let job =
    action === "watch"
      ? await api.job(values.dataset, values.job)
      : await api.controlJob(values.dataset, values.job, action, budget === undefined ? {} : { token_budget: Number(budget) });
  if (action === "watch" || action === "resume") {
    job = await watchJob(api, values.dataset, job);
    process.stderr.write(formatJobSummary(job));
  } else {
    process.stderr.write(`job ${job.id}: ${job.status} at ${job.cursor}/${job.total}\n`);
  }
  process.stdout.write(`${JSON.stringify({ job: job.id, status: job.status, cursor: job.cursor, total: job.total, ...job.progress })}\n`);
  return 0;
}
