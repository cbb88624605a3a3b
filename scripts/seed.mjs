// Reference data that `npm start` loads into the local D1 through the API, idempotently (records
// are content-addressed, so a restart re-sends them and adds nothing). The TRACE taxonomy is not
// here: it ships inside migration 0001 so deployed Workers and tests have it too.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { register } from "tsx/esm/api";
import { root } from "./wrangler-env.mjs";

const shared = join(root, "../shared/data");

export const referenceDatasets = [
  {
    name: "trace-eval",
    format: "trace",
    file: join(shared, "trace/trace_eval.jsonl"),
    description: "TRACE evaluation set (Tongyi Lab, Complex-IF, MIT): 1,042 complex instructions; ids 0-199 single-constraint (IF-S), the rest multi-constraint (IF-M).",
  },
  {
    name: "ifeval",
    format: "ifeval",
    file: join(shared, "ifeval/input_data.jsonl"),
    description: "IFEval prompts (Google Research, Apache-2.0): 541 prompts, 834 verifiable instructions.",
  },
  {
    name: "ifbench",
    format: "ifeval",
    file: join(shared, "ifbench/IFBench_test.jsonl"),
    description: "IFBench test prompts (Allen Institute for AI, Apache-2.0): 300 prompts over 58 verifiable constraint types.",
  },
];

export async function seedReferenceData({ base, adminToken, log = console.log }) {
  register();
  const { importFile } = await import("../src/cli/commands/import.ts");
  const { checkerContext } = await import("../src/cli/context.ts");
  const context = await checkerContext();
  for (const dataset of referenceDatasets) {
    if (!existsSync(dataset.file)) {
      log(`iopo: ${dataset.file} not found; dataset "${dataset.name}" not seeded`);
      continue;
    }
    const totals = await importFile({ api: base, key: adminToken, dataset: dataset.name, format: dataset.format, file: dataset.file, description: dataset.description, context });
    const headers = { authorization: `Bearer ${adminToken}` };
    const versions = await (await fetch(`${base}/v1/datasets/${dataset.name}/versions`, { headers })).json();
    if (versions.versions.length === 0) {
      await fetch(`${base}/v1/datasets/${dataset.name}/versions`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ shard_size: 500, description: "as seeded" }),
      });
    }
    log(`iopo: dataset "${dataset.name}": ${totals.record_count} records (${totals.inserted} new)`);
  }
}
