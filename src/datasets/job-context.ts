import type { Bindings } from "../env.ts";
import { withUsage } from "../pipelines/llm.ts";
import { llmJudgeFor } from "../judge/llm/from-env.ts";
import { validateConstraintChecker } from "./checkers.ts";
import { jobLlmConcurrency, modelCallShare } from "./job-share.ts";
import { DEFAULT_LEASE_MS, type JobContext } from "./jobs.ts";
import { loadTaxonomyIndex } from "./taxonomy.ts";

/** What a runner needs, from the Worker's bindings: the job owner's judge is built here, in one place. */
export async function jobContext(env: Bindings): Promise<JobContext> {
  const taxonomy = await loadTaxonomyIndex(env.DB);
  const leaseMs = Number(env.JOB_LEASE_MS);
  return {
    shards: env.SHARDS,
    validateChecker: validateConstraintChecker,
    dimensionNames: taxonomy.dimensionNames,
    // the job's owner is whom its model calls are made for and charged to (its key's spend budget;
    // a job the admin token created is unbudgeted, as the admin's requests are); the step limits
    // the calls to its share of all jobs' bound
    llm: (owner, usage) => {
      const judge = llmJudgeFor(env, { spend: owner.keyId === null ? [] : [{ kind: "key", keyId: owner.keyId }] });
      return withUsage(judge, usage);
    },
    modelCallShare: (job) => modelCallShare(env.DB, job, jobLlmConcurrency(env)),
    leaseMs: Number.isInteger(leaseMs) && leaseMs >= 100 ? leaseMs : DEFAULT_LEASE_MS,
  };
}
