/**
 * Dataset jobs from the command line (build-quadruples, build-trace, `iopo jobs`): create one or
 * pick it up by id, then watch it — the server's job queue runs it, so the CLI only follows its
 * live events (a server without a queue is driven with `POST .../run` instead). Ctrl-C detaches:
 * the job goes on server-side, and `iopo jobs watch` re-attaches; only `iopo jobs cancel` stops it.
 * Progress goes to stderr, the summary too; stdout gets one JSON line for scripts.
 */
import type { ApiClient, DatasetVersion, Job, JobEvent } from "@iopo/common";
import { InputError } from "@iopo/common/cli";

const moving = (status: Job["status"]) => status === "pending" || status === "running";

function progressLine(state: { cursor: number; total: number; produced: number; rejected: number; tokens: number }, rate?: JobEvent) {
  const width = 24;
  const done = state.total === 0 ? width : Math.round((state.cursor / state.total) * width);
  const speed = rate?.records_per_s ? `, ${rate.records_per_s} records/s, ETA ${formatSeconds(rate.eta_s ?? 0)}` : "";
  return `[${"#".repeat(done)}${".".repeat(width - done)}] ${state.cursor}/${state.total} records, ${state.produced} produced, ${state.rejected} rejected, ${state.tokens} tokens${speed}`;
}

const formatSeconds = (s: number) =>
  s >= 3600 ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;

const rejectedOf = (job: Job) => Object.values(job.progress.skipped).reduce((a, b) => a + b, 0);
const stateOf = (job: Job) => ({
  cursor: job.cursor,
  total: job.total,
  produced: job.progress.produced,
  rejected: rejectedOf(job),
  tokens: job.progress.usage?.total_tokens ?? 0,
});

/** How to pick the job up again, for messages. */
const commandsFor = (dataset: string, id: string) =>
  `re-attach with \`iopo jobs watch --dataset ${dataset} --job ${id}\`, stop it with \`iopo jobs cancel --dataset ${dataset} --job ${id}\``;

/**
 * Creates (a `kind` job with `body`) or picks up (`jobId`) a job over `dataset`; with `follow`
 * (the default) watches it to the end. A paused, failed or cancelled job ends with exit status 1
 * and says why and how to go on; everything finished so far is kept.
 */
export async function startOrAttach(
  api: ApiClient,
  options: { dataset: string; kind: string; body: Record<string, unknown>; jobId?: string; follow: boolean },
): Promise<Job> {
  let job: Job;
  if (options.jobId) {
    job = await api.job(options.dataset, options.jobId);
  } else {
    job = await api.createJob(options.dataset, options.kind, options.body);
    process.stderr.write(`job ${job.id} (${job.kind}) over ${job.total} records\n`);
  }
  if (!options.follow) {
    process.stderr.write(`detached: the job runs on the server; ${commandsFor(options.dataset, job.id)}\n`);
    return job;
  }
  return watchJob(api, options.dataset, job);
}

/**
 * A record-building command end to end (build-trace, build-quadruples): start or attach, watch
 * (unless detached), then freeze the finished job's target as a new version (unless `freeze` is
 * off). The summary goes to stderr, one JSON line (job, status, progress, version) to stdout.
 */
export async function runRecordJob(
  api: ApiClient,
  options: {
    dataset: string;
    kind: string;
    body: Record<string, unknown>;
    jobId?: string;
    follow: boolean;
    freeze: boolean;
    target?: string;
  },
): Promise<number> {
  const job = await startOrAttach(api, options);
  if (options.follow) process.stderr.write(formatJobSummary(job));
  let version: DatasetVersion | undefined;
  if (options.freeze && job.status === "done") {
    const target = (job.params.target as string | undefined) ?? options.target!;
    version = await api.createVersion(target, { description: `${options.kind} job ${job.id}` });
    const freezing = version.state === "frozen" ? "" : ` (${version.state}: job ${version.freeze_job} writes its shards)`;
    process.stderr.write(`  version ${version.version} of ${target}: ${version.record_count} records${freezing}\n`);
  }
  process.stdout.write(`${JSON.stringify({ job: job.id, status: job.status, ...job.progress, ...(version ? { version } : {}) })}\n`);
  return 0;
}

/** Follows a job until it stops moving; Ctrl-C detaches (the job goes on). */
export async function watchJob(api: ApiClient, dataset: string, job: Job): Promise<Job> {
  const tty = process.stderr.isTTY;
  const show = (line: string) => process.stderr.write(tty ? `\r${line}` : `  ${line}\n`);
  const detach = () => {
    process.stderr.write(`${tty ? "\n" : ""}detached: job ${job.id} goes on on the server; ${commandsFor(dataset, job.id)}\n`);
    process.exit(130);
  };
  process.once("SIGINT", detach);
  try {
    show(progressLine(stateOf(job)));
    while (moving(job.status)) {
      if (job.runner === "client") {
        // a server without a job queue: this client drives the job, step by step
        const result = await api.runJob(dataset, job.id, 20);
        job = result.job;
        show(progressLine(stateOf(job)));
        if (result.interrupted) break;
        if (result.busy) await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      let last: JobEvent | undefined;
      for await (const event of api.jobEvents(dataset, job.id)) {
        last = event;
        show(progressLine(event, event));
      }
      job = await api.job(dataset, job.id);
      if (last && moving(job.status) && job.error) show(`${progressLine(stateOf(job), last)} (retrying: ${job.error})`);
    }
  } finally {
    process.removeListener("SIGINT", detach);
  }
  if (tty) process.stderr.write("\n");
  if (job.status === "running" && job.error)
    throw new InputError(`job ${job.id} interrupted at ${job.cursor}/${job.total}: ${job.error}\n${commandsFor(dataset, job.id)}`);
  if (job.status === "paused")
    throw new InputError(
      `job ${job.id} paused at ${job.cursor}/${job.total}${job.error ? `: ${job.error}` : ""}\nresume with \`iopo jobs resume --dataset ${dataset} --job ${job.id}\``,
    );
  if (job.status === "failed") throw new InputError(`job ${job.id} failed: ${job.error}`);
  if (job.status === "cancelled") throw new InputError(`job ${job.id} was cancelled at ${job.cursor}/${job.total}`);
  return job;
}

/** The human summary: counts, the reject table by reason, token totals. */
export function formatJobSummary(job: Job): string {
  const p = job.progress;
  const rejected = rejectedOf(job);
  const lines = [
    `${job.kind} job ${job.id}: ${job.status}`,
    `  records processed ${p.processed}, produced ${p.produced} (${p.duplicates} duplicates), rejected ${rejected}`,
  ];
  const ops = Object.entries(p.by_op);
  if (ops.length)
    lines.push(`  produced by ${job.kind === "build-trace" ? "path" : "operation"}: ${ops.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  if (rejected) {
    lines.push("  rejects by reason:");
    const width = Math.max(...Object.keys(p.skipped).map((r) => r.length));
    for (const [reason, n] of Object.entries(p.skipped).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])))
      lines.push(`    ${reason.padEnd(width)}  ${String(n).padStart(5)}`);
  }
  const u = p.usage;
  if (u)
    lines.push(
      `  tokens: ${u.prompt_tokens} prompt + ${u.completion_tokens} completion = ${u.total_tokens} in ${u.calls} model calls; ${u.cache_hits} cache hits`,
    );
  return `${lines.join("\n")}\n`;
}
