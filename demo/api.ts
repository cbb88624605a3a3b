/**
 * The dataset API calls the demo makes (besides evaluation): create datasets, add records, freeze
 * versions, and drive the rule-based quadruple builder job to completion.
 */
import { ApiError, JudgeApi } from "@iopo/gpu-trainer";

export interface Version {
  version: number;
  record_count: number;
  shard_count: number;
}

export interface BuildJob {
  id: string;
  status: "pending" | "running" | "done" | "failed";
  cursor: number;
  total: number;
  error: string | null;
  progress: { produced?: number; duplicates?: number; by_op?: Record<string, number>; skipped?: Record<string, number> };
}

export class DemoApi extends JudgeApi {
  /** Create a dataset; an existing one is reused (its records are content-addressed). */
  async ensureDataset(name: string, description: string): Promise<void> {
    try {
      await this.postJson("/v1/datasets", { name, description, visibility: "public" });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  }

  /** Add records in requests of at most 5,000; returns how many were new. */
  async addRecords(name: string, records: unknown[]): Promise<{ inserted: number; duplicates: number }> {
    let inserted = 0;
    let duplicates = 0;
    for (let i = 0; i < records.length; i += 5000) {
      const r = await this.postJson<{ inserted: number; duplicates: number }>(`/v1/datasets/${encodeURIComponent(name)}/records`, records.slice(i, i + 5000));
      inserted += r.inserted ?? 0;
      duplicates += r.duplicates ?? 0;
    }
    return { inserted, duplicates };
  }

  /** The latest version if it holds every record, else a new one. */
  async freeze(name: string, description: string): Promise<Version> {
    const ds = await this.request<{ record_count: number; versions?: Version[] }>("GET", `/v1/datasets/${encodeURIComponent(name)}`);
    const { versions } = await this.request<{ versions: Version[] }>("GET", `/v1/datasets/${encodeURIComponent(name)}/versions`);
    const latest = [...versions].sort((a, b) => b.version - a.version)[0];
    if (latest && latest.record_count === ds.record_count) return latest;
    return this.postJson<Version>(`/v1/datasets/${encodeURIComponent(name)}/versions`, { shard_size: 1000, description });
  }

  /** Start the builder job over `source`'s sft records and run it until it is done. */
  async buildQuadruples(source: string, target: string, opts: { seed: number; ops?: string[]; batchSize?: number }, log: (l: string) => void): Promise<BuildJob> {
    const base = `/v1/datasets/${encodeURIComponent(source)}`;
    let job = await this.postJson<BuildJob>(`${base}/jobs/build-quadruples`, {
      target,
      seed: opts.seed,
      ...(opts.ops ? { ops: opts.ops } : {}),
      ...(opts.batchSize ? { batch_size: opts.batchSize } : {}),
    });
    while (job.status === "pending" || job.status === "running") {
      const r = await this.postJson<{ job: BuildJob; busy: boolean }>(`${base}/jobs/${job.id}/run`, { max_batches: 20 });
      job = r.job;
      log(`  quadruples: ${job.cursor}/${job.total} records, ${job.progress.produced ?? 0} built`);
      if (r.busy) await new Promise((res) => setTimeout(res, 1000));
    }
    if (job.status === "failed") throw new Error(`quadruple job ${job.id} failed: ${job.error}`);
    return job;
  }
}
