// Dataset service benchmark (prints figures; not a test): ingest of 100K synthetic records into
// the local D1 through the API, streaming every shard of a 100K-record version, and the workerd
// process's resident memory while versions of growing size are streamed.
import { readFileSync } from "node:fs";
import { startServer, workerdPids } from "../lib/server.mjs";

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const PER_REQUEST = 10_000;
const CHECKPOINTS = [TOTAL / 5, TOTAL / 2, TOTAL];

const topics = ["rivers", "bridges", "owls", "tea", "glaciers", "chess", "volcanoes", "lighthouses"];
function record(i) {
  const topic = topics[i % topics.length];
  return {
    kind: "sft",
    instruction: {
      description: `Write a short note about ${topic} (#${i}).`,
      constraints: [
        { text: "Use fewer than 80 words.", dimension: "Numerical Constraint" },
        ...(i % 3 === 0 ? [{ text: "Write in a formal tone.", dimension: "Tone and Style Constraint" }] : []),
      ],
    },
    response: `Note ${i}: ${topic} are remarkable. `.repeat(8),
  };
}

function workerdRssMiB(rootPid) {
  let total = 0;
  for (const pid of workerdPids(rootPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      total += Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
    } catch {
      // process ended
    }
  }
  return total;
}

const server = await startServer();
const auth = { authorization: `Bearer ${server.adminToken}` };
try {
  const api = (path, init = {}) => fetch(`${server.base}${path}`, init);
  const created = await api("/v1/datasets", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", description: "synthetic" }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);

  // Ingest everything first, freezing a version at each checkpoint (a version is the first N
  // records), then stream the versions: the same process state for each, so memory compares.
  let ingested = 0;
  let ingestMs = 0;
  const versions = [];
  for (const checkpoint of CHECKPOINTS) {
    while (ingested < checkpoint) {
      const n = Math.min(PER_REQUEST, checkpoint - ingested);
      const body = Array.from({ length: n }, (_, k) => JSON.stringify(record(ingested + k))).join("\n");
      const t0 = performance.now();
      const res = await api("/v1/datasets/bench/records", {
        method: "POST",
        headers: { ...auth, "content-type": "application/x-ndjson" },
        body,
      });
      ingestMs += performance.now() - t0;
      const result = await res.json();
      if (res.status !== 200 || result.inserted !== n) throw new Error(`ingest: ${res.status} ${JSON.stringify(result)}`);
      ingested += n;
    }
    const res = await api("/v1/datasets/bench/versions", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ shard_size: 5000 }),
    });
    versions.push(await res.json());
  }

  const memory = [];
  for (const version of versions) {
    const baseline = workerdRssMiB(server.child.pid);
    const t0 = performance.now();
    const manifest = await (await api(`/v1/datasets/bench/versions/${version.version}/manifest`)).json();
    const manifestMs = performance.now() - t0;
    let peak = Math.max(baseline, workerdRssMiB(server.child.pid));
    const t1 = performance.now();
    let bytes = 0;
    let chunks = 0;
    for (const shard of manifest.shards) {
      const res = await api(shard.url);
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        if (++chunks % 64 === 0) peak = Math.max(peak, workerdRssMiB(server.child.pid));
      }
      peak = Math.max(peak, workerdRssMiB(server.child.pid));
    }
    const streamMs = performance.now() - t1;
    memory.push({ records: version.record_count, shards: manifest.shard_count, manifestMs, streamMs, bytes, baseline, peak });
  }

  console.log(`\nDatasets benchmark (${TOTAL} synthetic sft records, local D1 through wrangler dev)`);
  console.log(
    `ingest: ${TOTAL} records in ${(ingestMs / 1000).toFixed(1)} s = ${Math.round(TOTAL / (ingestMs / 1000))} records/s (${PER_REQUEST} per request, NDJSON)`,
  );
  console.log(
    "\n| version size | shards | manifest (hash all shards) | stream all shards | records/s streamed | MB | workerd RSS before | peak while streaming |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const m of memory) {
    console.log(
      `| ${m.records} | ${m.shards} | ${(m.manifestMs / 1000).toFixed(2)} s | ${(m.streamMs / 1000).toFixed(2)} s | ${Math.round(m.records / (m.streamMs / 1000))} | ${(m.bytes / 1e6).toFixed(1)} | ${m.baseline.toFixed(0)} MiB | ${m.peak.toFixed(0)} MiB |`,
    );
  }
  const growth = (m) => m.peak - m.baseline;
  console.log(
    `\nmemory growth while streaming: ${growth(memory[0]).toFixed(0)} MiB for ${memory[0].records} records, ${growth(memory[memory.length - 1]).toFixed(0)} MiB for ${memory[memory.length - 1].records} ` +
      `(peak ratio largest/smallest version: ${(memory[memory.length - 1].peak / memory[0].peak).toFixed(2)}x for ${(CHECKPOINTS[2] / CHECKPOINTS[0]).toFixed(0)}x the records)`,
  );
} finally {
  await server.stop();
}
