/**
 * The dataset API calls the demo makes (besides evaluation) on top of the shared client: add
 * records in large batches, freeze versions, and drive the rule-based quadruple builder job to
 * completion.
 */
import { ApiClient, type DatasetVersion, type Job } from "@iopo/common";

export class DemoApi extends ApiClient {
  /** Add records in requests of at most 5,000; returns how many were new. */
  async addAllRecords(name: string, records: unknown[]): Promise<{ inserted: number; duplicates: number }> {
    let inserted = 0;
    let duplicates = 0;
    for (let i = 0; i < records.length; i += 5000) {
      const r = await this.addRecords(name, records.slice(i, i + 5000));
      inserted += r.inserted ?? 0;
      duplicates += r.duplicates ?? 0;
    }
    return { inserted, duplicates };
  }

  /** The latest version if it holds every record, else a new one. */
  async freeze(name: string, description: string): Promise<DatasetVersion> {
    const ds = await this.dataset(name);
    const latest = [...(await this.versions(name))].sort((a, b) => b.version - a.version)[0];
    if (latest && latest.record_count === ds.record_count) return latest;
    return this.createVersion(name, { shard_size: 1000, description });
  }

  /** Start the builder job over `source`'s sft records and run it until it is done. */
  async buildQuadruples(
    source: string,
    target: string,
    opts: { seed: number; ops?: string[]; batchSize?: number },
    log: (l: string) => void,
  ): Promise<Job> {
    let job = await this.createJob(source, "build-quadruples", {
      target,
      seed: opts.seed,
      ...(opts.ops ? { ops: opts.ops } : {}),
      ...(opts.batchSize ? { batch_size: opts.batchSize } : {}),
    });
    while (job.status === "pending" || job.status === "running") {
      const r = await this.runJob(source, job.id, 20);
      job = r.job;
      log(`  quadruples: ${job.cursor}/${job.total} records, ${job.progress.produced ?? 0} built`);
      if (r.busy) await new Promise((res) => setTimeout(res, 1000));
    }
    if (job.status === "failed") throw new Error(`quadruple job ${job.id} failed: ${job.error}`);
    return job;
  }
}
