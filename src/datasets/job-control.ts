import type { Bindings } from "../env.ts";
import type { Principal } from "../lib/principal.ts";
import { jobContext } from "./job-context.ts";
import { enqueueJob } from "./job-queue.ts";
import type { RECORD_JOB_KINDS, RecordJobKindName } from "./job-registry.ts";
import {
  controlJob,
  createJob,
  findJob,
  jobById,
  type JobAction,
  type JobWithUsage,
  prepareTarget,
  presentJob,
  runJobSteps,
} from "./jobs.ts";
import { findDataset } from "./store/access.ts";

/**
 * What the job routes do, as the caller (`principal`): start a record kind's job, find one, drive
 * it where there is no queue, and control it; each hands the job to the queue where that is due.
 */

/** A job as the API shows it, saying who runs it here: the queue, or clients through `POST .../run`. */
export const presentJobHere = (env: Bindings, job: JobWithUsage) => ({
  ...presentJob(job),
  runner: env.JOB_QUEUE ? ("queue" as const) : ("client" as const),
});

/** Creates a `kind` job over `sourceName` as the caller, its target made when missing, and enqueues it where there is a queue. */
export async function startJob(
  env: Bindings,
  principal: Principal,
  sourceName: string,
  kind: RecordJobKindName,
  params: (typeof RECORD_JOB_KINDS)[RecordJobKindName]["params"]["_output"],
  description: string,
): Promise<JobWithUsage> {
  const source = await findDataset(env.DB, sourceName, principal, "read");
  const target = await prepareTarget(env.DB, source, params.target, params.visibility, principal, description);
  const job = await createJob(env.DB, { source, target, kind, params, principal });
  await enqueueJob(env, job);
  return job;
}

/** The job `id` reached from dataset `name`, as the caller may see (`read`) or control it. */
export async function namedJob(env: Bindings, principal: Principal, name: string, id: string, access: "read" | "control") {
  const dataset = await findDataset(env.DB, name, principal, "read");
  return findJob(env.DB, dataset, id, principal, access);
}

/** Runs up to `maxBatches` steps of a job the caller controls, within about 20 s (`POST .../run`). */
export async function runJobHere(env: Bindings, job: JobWithUsage, maxBatches: number) {
  const result = await runJobSteps(env.DB, job.id, await jobContext(env), { maxBatches, budgetMs: 20_000 });
  // this run moved the cursor past the queue's message (which is then dropped as stale): the
  // queue takes over from here should this client not come back
  if (result.ran > 0 && result.job.status === "running") await enqueueJob(env, result.job);
  return result;
}

/** Pauses, resumes (re-enqueued; optionally with a new token budget) or cancels a job the caller controls. */
export async function controlJobHere(env: Bindings, job: JobWithUsage, action: JobAction, change: { tokenBudget?: number }) {
  const changed = await controlJob(env.DB, job, action, change);
  if (action === "resume") await enqueueJob(env, changed);
  return (await jobById(env.DB, job.id))!;
}
