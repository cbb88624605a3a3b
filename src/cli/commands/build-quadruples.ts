import { apiConnection, parseCommandArgs } from "../args.ts";
import { CliError } from "../errors.ts";

export const buildQuadruplesUsage = `Usage: iopo build-quadruples --api <url> --key <key> --dataset <sft-source> --target <name> [options]
  Builds IOPO quadruples from the source's sft records with verifiable constraints (no LLM) through
  the dataset API's job, driving it batch by batch until done. Resume an interrupted run with --job <id>.
  --ops add,delete,revise   operations to use (default all)
  --seed <n>                seed of every choice (default 0)
  --batch <n>               source records per batch (default 50)
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.`;

interface Job {
  id: string;
  status: string;
  cursor: number;
  total: number;
  error: string | null;
  progress: { produced: number; duplicates: number; by_op: Record<string, number>; skipped: Record<string, number> };
}

async function api(url: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (error) {
    throw new CliError(`cannot reach the API at ${new URL(url).origin}: ${(error as Error).cause ?? (error as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { detail?: string };
  if (!res.ok) throw new CliError(`${init.method ?? "GET"} ${new URL(url).pathname}: ${res.status} ${body.detail ?? ""}`);
  return body;
}

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
    },
    buildQuadruplesUsage,
  );
  if (!parsed) return 0;
  const { values } = parsed;
  const { base, key } = apiConnection(values);
  if (!base || !key || !values.dataset || (!values.target && !values.job)) {
    throw new CliError(`--api, --key, --dataset and --target (or --job) are required\n${buildQuadruplesUsage}`, 2);
  }
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const source = `${base}/v1/datasets/${encodeURIComponent(values.dataset)}`;

  let job: Job;
  if (values.job) {
    job = (await api(`${source}/jobs/${encodeURIComponent(values.job)}`, { headers })) as Job;
  } else {
    const body: Record<string, unknown> = { target: values.target };
    if (values.ops) body.ops = values.ops.split(",").map((s) => s.trim());
    if (values.seed) body.seed = Number(values.seed);
    if (values.batch) body.batch_size = Number(values.batch);
    job = (await api(`${source}/jobs/build-quadruples`, { method: "POST", headers, body: JSON.stringify(body) })) as Job;
    process.stderr.write(`job ${job.id} over ${job.total} records (resume with --job ${job.id})\n`);
  }
  while (job.status === "pending" || job.status === "running") {
    const result = (await api(`${source}/jobs/${job.id}/run`, { method: "POST", headers, body: JSON.stringify({ max_batches: 20 }) })) as { job: Job; busy: boolean };
    job = result.job;
    process.stderr.write(`  ${job.cursor}/${job.total} records, ${job.progress.produced} quadruples\n`);
    if (result.busy) await new Promise((r) => setTimeout(r, 2000));
  }
  if (job.status === "failed") throw new CliError(`job ${job.id} failed: ${job.error}`);
  process.stdout.write(`${JSON.stringify({ job: job.id, status: job.status, ...job.progress })}\n`);
  return 0;
}
