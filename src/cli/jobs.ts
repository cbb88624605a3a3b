/**
 * Driving a dataset job from the command line (build-quadruples, build-trace): create it or pick
 * it up by id, run it batch by batch with a progress line on stderr, then print a summary (counts,
 * the reject table by reason, token totals). stdout gets one JSON line for scripts.
 */
import type { ApiClient, Job } from "@iopo/common";
import { InputError } from "@iopo/common/cli";

function progressLine(job: Job): string {
  const width = 24;
  const done = job.total === 0 ? width : Math.round((job.cursor / job.total) * width);
  const rejected = Object.values(job.progress.skipped).reduce((a, b) => a + b, 0);
  const tokens = job.progress.usage ? `, ${job.progress.usage.total_tokens} tokens` : "";
  return `[${"#".repeat(done)}${".".repeat(width - done)}] ${job.cursor}/${job.total} records, ${job.progress.produced} produced, ${rejected} rejected${tokens}`;
}

/**
 * Creates (a `kind` job with `body`) or resumes (`jobId`) a job over `dataset` and runs it to
 * the end. An interrupted run (the model unreachable after its retries) stops with exit status 1
 * and says how to resume; everything finished so far is kept.
 */
export async function driveJob(
  api: ApiClient,
  options: { dataset: string; kind: string; body: Record<string, unknown>; jobId?: string },
): Promise<Job> {
  let job: Job;
  if (options.jobId) {
    job = await api.job(options.dataset, options.jobId);
  } else {
    job = await api.createJob(options.dataset, options.kind, options.body);
    process.stderr.write(`job ${job.id} (${job.kind}) over ${job.total} records (resume with --job ${job.id})\n`);
  }
  const tty = process.stderr.isTTY;
  while (job.status === "pending" || job.status === "running") {
    const result = await api.runJob(options.dataset, job.id, 20);
    job = result.job;
    process.stderr.write(tty ? `\r${progressLine(job)}` : `  ${progressLine(job)}\n`);
    if (result.interrupted) {
      if (tty) process.stderr.write("\n");
      throw new InputError(
        `job ${job.id} interrupted at ${job.cursor}/${job.total}: ${result.interrupted}\nresume with --job ${job.id} (finished model calls are cached)`,
      );
    }
    if (result.busy) await new Promise((r) => setTimeout(r, 2000));
  }
  if (tty) process.stderr.write("\n");
  if (job.status === "failed") throw new InputError(`job ${job.id} failed: ${job.error}`);
  return job;
}

/** The human summary: counts, the reject table by reason, token totals. */
export function formatJobSummary(job: Job): string {
  const p = job.progress;
  const rejected = Object.values(p.skipped).reduce((a, b) => a + b, 0);
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
