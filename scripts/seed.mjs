// Reference data that `npm start` loads into the local D1 through the API, from the repository's
// data/ folder, idempotently (records are content-addressed, so a restart re-sends them and adds
// nothing). Which datasets, from which files, is stated once in src/datasets/reference.ts. The TRACE
// taxonomy is not here: it ships inside migration 0001 so deployed Workers and tests have it too.
import { join } from "node:path";
import { register } from "tsx/esm/api";
import { root } from "./wrangler-env.mjs";

/** Seeds what /v1/health reports missing; returns the health's reference_data afterwards. */
export async function seedReferenceData({ base, adminToken, log = console.log }) {
  const before = await referenceStatus(base);
  if (before.complete) return before; // a restart: nothing to load, not even the judge
  register();
  const { REFERENCE_DATASETS } = await import("../src/datasets/reference.ts");
  const { importFile } = await import("../src/cli/commands/import.ts");
  const { checkerContext } = await import("../src/cli/context.ts");
  const { ApiClient } = await import("@iopo/common");
  const api = new ApiClient(base, { key: adminToken });
  const context = await checkerContext();
  for (const dataset of REFERENCE_DATASETS) {
    const status = before.datasets.find((d) => d.name === dataset.name);
    if (status && status.records === dataset.records && status.versioned_records === dataset.records) continue;
    const totals = await importFile({
      api: base,
      key: adminToken,
      dataset: dataset.name,
      format: dataset.format,
      file: join(root, dataset.file),
      description: dataset.description,
      context,
    });
    await api.createVersion(dataset.name, { shard_size: 500, description: "as seeded" });
    log(`iopo: dataset "${dataset.name}": ${totals.record_count} records (${totals.inserted} new)`);
  }
  return referenceStatus(base);
}

async function referenceStatus(base) {
  const res = await fetch(`${base}/v1/health`);
  if (!res.ok) throw new Error(`/v1/health answered ${res.status}`);
  return (await res.json()).reference_data;
}
