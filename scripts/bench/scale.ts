// `npm run bench -- scale [--records N] [--job-records N] [--llm-records N] [--latency-ms MS]
// [--concurrency N] [--shard-size N]`: the data side at TRACE scale (prints figures; not a test).
// Ingests N synthetic TRACE-like records (default 120,000) through the API, freezes them (every
// shard into R2; past one step's D1/R2 calls, a freeze-version job on the queue), reads every shard back and a tail Range, runs the rule quadruple job and an LLM
// job (the fake provider of the tests on 127.0.0.1, answering after a set latency), kills the dev
// server in the middle of a job and restarts it (the output must equal an uninterrupted run's),
// and prints throughput, D1 size, R2 bytes, peak workerd memory, the model-call rate against the
// configured concurrency, and a cost model for 120K records at Cloudflare's published prices.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Job } from "@iopo/common";
import { startFakeLlm } from "../../test/fake-llm/server.ts";
import { responsesFor } from "../../test/worker/fixtures/responses.ts";
// @ts-expect-error -- plain ESM helper shared with the tests
import { startServer, workerdPids } from "../lib/server.mjs";

const { values: opts } = parseArgs({
  options: {
    records: { type: "string", default: "120000" },
    "job-records": { type: "string", default: "5000" },
    "llm-records": { type: "string", default: "200" },
    "latency-ms": { type: "string", default: "200" },
    concurrency: { type: "string", default: "4" },
    "shard-size": { type: "string", default: "1000" },
  },
});
const N = Number(opts.records);
const JOB_N = Number(opts["job-records"]);
const LLM_N = Number(opts["llm-records"]);
const LATENCY_MS = Number(opts["latency-ms"]);
const CONCURRENCY = Number(opts.concurrency);
const SHARD_SIZE = Number(opts["shard-size"]);
const PER_REQUEST = 10_000;

type Server = {
  base: string;
  adminToken: string;
  child: { pid: number };
  stop(): Promise<void>;
  kill(): Promise<void>;
};
// ---- synthetic TRACE-like records: 7 responses per task, TRACE's Chinese and English, dimensions, checkers

const topics = ["owls", "tea", "rivers", "chess", "glaciers", "bridges", "comets", "gardens"];
function sftRecord(i: number) {
  const task = Math.floor(i / 7);
  const topic = `${topics[task % topics.length]} ${task}`;
  const responses = responsesFor(topic);
  return {
    kind: "sft",
    instruction: {
      description: `Write a few sentences about ${topic}. 请用几句话介绍${topic}，说明它们为什么值得了解。`,
      constraints: [
        {
          text: "Answer with at least 5 words. 回答至少包含五个单词。",
          dimension: "Numerical Constraint",
          checker: { id: "length_constraints:number_words", kwargs: { relation: "at least", num_words: 5 } },
        },
      ],
      input: `Topic card ${task}: ${topic}.`,
    },
    response: responses[i % 7],
    meta: { source: "bench-scale", task },
  };
}
const plainRecord = (i: number) => ({
  kind: "instruction",
  instruction: { description: `Write a short guide to ${topics[i % topics.length]} for a beginner (case ${i}).`, constraints: [] },
});

// ---- the API

const fake = await startFakeLlm();
const session = "scale";
const llmEnv = {
  LLM_PROVIDER: "openai",
  LLM_BASE_URL: `${fake.url}/s/${session}/v1`,
  LLM_MODEL: "fake-scale-1",
  LLM_CONCURRENCY: String(CONCURRENCY),
  // jobs share JOB_LLM_CONCURRENCY by key, then by job: the bench's lone LLM job has all of it (src/datasets/job-share.ts)
  JOB_LLM_CONCURRENCY: String(CONCURRENCY),
  LLM_TIMEOUT_MS: "30000",
};
const state = mkdtempSync(join(tmpdir(), "iopo-scale-"));
const start = (): Promise<Server> => startServer({ persistTo: state, env: { IOPO_DEV_VARS: JSON.stringify(llmEnv) } });
let server = await start();

async function api<T = unknown>(
  path: string,
  init: { method?: string; json?: unknown; ndjson?: string; headers?: Record<string, string> } = {},
): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${server.adminToken}`, ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) (headers["content-type"] = "application/json"), (body = JSON.stringify(init.json));
  if (init.ndjson !== undefined) (headers["content-type"] = "application/x-ndjson"), (body = init.ndjson);
  const res = await fetch(`${server.base}${path}`, { method: init.method ?? (body ? "POST" : "GET"), headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** workerd's peak resident memory (VmHWM) so far, the largest of its processes, in MiB. */
function workerdPeakMiB(): number {
  let peak = 0;
  for (const pid of workerdPids(server.child.pid) as number[]) {
    try {
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024);
    } catch {
      // ended
    }
  }
  return peak;
}
let peakMiB = 0;
const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, workerdPeakMiB())), 500);

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}
const find = (dir: string, name: string): string | undefined => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      const hit = entry.name === name ? join(dir, entry.name) : find(join(dir, entry.name), name);
      if (hit) return hit;
    }
  }
  return undefined;
};

async function ingest(name: string, count: number, make: (i: number) => unknown): Promise<number> {
  await api("/v1/datasets", { json: { name } });
  const t0 = performance.now();
  for (let from = 0; from < count; from += PER_REQUEST) {
    const lines = Array.from({ length: Math.min(PER_REQUEST, count - from) }, (_, k) => JSON.stringify(make(from + k))).join("\n");
    await api(`/v1/datasets/${name}/records`, { ndjson: lines });
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Watches a job to its end: the job queue runs it (creating a job enqueues its first step; a
 * restarted server re-enqueues it from its D1 cursor), so the bench only reads its progress.
 */
async function runJob(source: string, id: string, onProgress?: (job: Job) => void): Promise<Job> {
  for (;;) {
    const job = await api<Job>(`/v1/datasets/${source}/jobs/${id}`);
    onProgress?.(job);
    if (job.status !== "pending" && job.status !== "running") return job;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const out: string[] = [];
const say = (line: string) => (console.log(line), out.push(line));

try {
  // 1. ingest and freeze
  const ingestS = await ingest("scale", N, sftRecord);
  say(`ingest: ${fmt(N)} records in ${fmt(ingestS, 1)} s = ${fmt(N / ingestS)} records/s (NDJSON, ${fmt(PER_REQUEST)} per request)`);
  // a freeze past one step's D1/R2 calls is a freeze-version job on the queue (202): watched to its end
  let t0 = performance.now();
  const version = await api<{ version: number; shard_count: number; state: string; freeze_job: string }>("/v1/datasets/scale/versions", {
    json: { shard_size: SHARD_SIZE },
  });
  const freezeJob = await runJob("scale", version.freeze_job);
  if (freezeJob.status !== "done") throw new Error(`the freeze job ended ${freezeJob.status}: ${JSON.stringify(freezeJob)}`);
  const freezeS = (performance.now() - t0) / 1000;
  const perStep = freezeJob.params.batch_size as number;
  say(
    `freeze: ${fmt(version.shard_count)} shards of ${fmt(SHARD_SIZE)} × 2 formats (records, sft) into R2 in ${fmt(freezeS, 1)} s = ${fmt(N / freezeS)} records/s ` +
      `(${version.state === "frozen" ? "within the request" : "on the queue"}: ${fmt(Math.ceil(version.shard_count / perStep))} step(s) of at most ${fmt(perStep)} shards)`,
  );

  // 2. serve every shard from R2
  type Manifest = { shards: { url: string; bytes: number; sha256: string }[]; line_count: number };
  const manifests = {
    records: await api<Manifest>(`/v1/datasets/scale/versions/${version.version}/manifest?format=records`),
    sft: await api<Manifest>(`/v1/datasets/scale/versions/${version.version}/manifest?format=sft`),
  };
  for (const pass of ["cold (R2)", "warm (Cache API)"]) {
    t0 = performance.now();
    let bytes = 0;
    for (const shard of manifests.records.shards) bytes += (await (await fetch(`${server.base}${shard.url}`)).arrayBuffer()).byteLength;
    const serveS = (performance.now() - t0) / 1000;
    say(
      `serve, ${pass}: all ${manifests.records.shards.length} records-format shards, ${fmt(bytes / 1e6, 1)} MB in ${fmt(serveS, 2)} s = ${fmt(N / serveS)} records/s, ${fmt(bytes / 1e6 / serveS, 1)} MB/s`,
    );
  }
  const last = manifests.sft.shards.at(-1)!;
  const firstByte = async (headers: Record<string, string>) => {
    const t = performance.now();
    const res = await fetch(`${server.base}${last.url}`, { headers });
    const reader = res.body!.getReader();
    await reader.read();
    const ms = performance.now() - t;
    await reader.cancel();
    return { ms, status: res.status };
  };
  const tail = [await firstByte({ range: "bytes=-4096" }), await firstByte({ range: "bytes=-4096" })];
  const whole = await firstByte({});
  say(
    `first byte of the last shard's final 4 KiB (Range, ${tail[0]!.status}): ${fmt(tail[0]!.ms, 1)} ms the first time, ${fmt(tail[1]!.ms, 1)} ms again; ` +
      `of the whole ${fmt(last.bytes / 1e6, 2)} MB shard: ${fmt(whole.ms, 1)} ms`,
  );

  // 3. the rule quadruple job (and the reference for the restart below)
  await ingest("scale-src", JOB_N, sftRecord);
  const ruleJob = await api<Job>("/v1/datasets/scale-src/jobs/build-quadruples", { json: { target: "scale-quads", seed: 7 } });
  t0 = performance.now();
  const ruleDone = await runJob("scale-src", ruleJob.id);
  const ruleS = (performance.now() - t0) / 1000;
  say(
    `rule quadruple job: ${fmt(JOB_N)} sft records → ${fmt(ruleDone.progress.produced)} quadruples in ${fmt(ruleS, 1)} s = ${fmt(JOB_N / ruleS)} records/s`,
  );

  // 4. an LLM job (build-trace) against the fake model
  await ingest("scale-prompts", LLM_N, plainRecord);
  await fetch(`${fake.url}/s/${session}/__script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reset: true, fallback: { auto: {}, delay_ms: LATENCY_MS } }),
  });
  const llmJob = await api<Job>("/v1/datasets/scale-prompts/jobs/build-trace", { json: { target: "scale-trace", seed: 5 } });
  t0 = performance.now();
  const llmDone = await runJob("scale-prompts", llmJob.id);
  const llmS = (performance.now() - t0) / 1000;
  const log = (await (await fetch(`${fake.url}/s/${session}/__requests`)).json()) as { requests: { at: number }[]; max_in_flight: number };
  const calls = log.requests.length;
  const usage = llmDone.progress.usage!;
  say(
    `LLM job (build-trace, model latency ${LATENCY_MS} ms): ${fmt(LLM_N)} instructions → ${fmt(llmDone.progress.produced)} records in ${fmt(llmS, 1)} s = ${fmt(LLM_N / llmS, 2)} records/s; ` +
      `${fmt(calls)} model calls = ${fmt(calls / llmS, 1)}/s against a ceiling of ${fmt((CONCURRENCY * 1000) / LATENCY_MS, 1)}/s (JOB_LLM_CONCURRENCY ${CONCURRENCY}); at most ${log.max_in_flight} in flight; ` +
      `${fmt(usage.total_tokens)} tokens (${fmt(usage.total_tokens / LLM_N)} per instruction)`,
  );

  // 5. kill the dev server in the middle of the rule job, restart, finish: the output equals the uninterrupted run's
  const again = await api<Job>("/v1/datasets/scale-src/jobs/build-quadruples", { json: { target: "scale-quads-2", seed: 7 } });
  let killedAt = -1;
  const killing = runJob("scale-src", again.id, (job) => {
    if (killedAt < 0 && job.cursor > 0) killedAt = job.cursor;
  }).catch(() => undefined); // the watch dies with the server
  while (killedAt < 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // the next step is in flight on the queue
  await server.kill();
  await killing;
  const restartT = performance.now();
  server = await start();
  const restartS = (performance.now() - restartT) / 1000;
  const resumed = await runJob("scale-src", again.id);
  const sources = async (name: string) => {
    const ids: string[] = [];
    for (let after = -1; ; ) {
      const page = await api<{ rows: { row: { meta: { source_record: string; op: string } }; row_idx: number }[] }>(
        `/v1/datasets/${name}/rows?length=100&after=${after}`,
      );
      if (page.rows.length === 0) return ids;
      for (const r of page.rows) ids.push(`${r.row.meta.source_record}/${r.row.meta.op}`);
      after = page.rows.at(-1)!.row_idx;
    }
  };
  const [reference, interrupted] = await Promise.all([sources("scale-quads"), sources("scale-quads-2")]);
  const same = reference.length === interrupted.length && reference.every((id, i) => id === interrupted[i]);
  say(
    `kill -9 of the dev server with the job at cursor ${fmt(killedAt)} of ${fmt(JOB_N)}, restart in ${fmt(restartS, 1)} s, resumed to ${resumed.status}: ` +
      `${fmt(interrupted.length)} quadruples vs ${fmt(reference.length)} uninterrupted, ${new Set(interrupted).size === interrupted.length ? "none doubled" : "DOUBLED"}, ` +
      `${same ? "the same records in the same order (nothing lost)" : "DIFFERENT from the uninterrupted run"}`,
  );

  // 6. storage and memory
  const d1Dir = find(state, "miniflare-D1DatabaseObject");
  const r2Dir = find(state, "r2");
  const d1Bytes = d1Dir ? dirBytes(d1Dir) : 0;
  const r2Bytes = r2Dir ? dirBytes(r2Dir) : 0;
  const frozenBytes = [...manifests.records.shards, ...manifests.sft.shards].reduce((n, s) => n + s.bytes, 0);
  peakMiB = Math.max(peakMiB, workerdPeakMiB());
  say(
    `storage: D1 ${fmt(d1Bytes / 1e6, 1)} MB on disk (all datasets); R2 ${fmt(r2Bytes / 1e6, 1)} MB on disk, of which the ${fmt(N)}-record version's shards are ${fmt(frozenBytes / 1e6, 1)} MB; ` +
      `workerd peak resident memory ${fmt(peakMiB)} MiB (VmHWM, since the restart and before it)`,
  );

  // 7. the cost model for 120,000 records
  costModel({
    frozenBytesPerRecord: frozenBytes / N,
    d1BytesPerRecord: d1Bytes / N,
    callsPerRecord: calls / LLM_N,
    tokensPerRecord: { prompt: usage.prompt_tokens / LLM_N, completion: usage.completion_tokens / LLM_N },
  });
} finally {
  clearInterval(sampler);
  await server.stop();
  await fake.close();
  rmSync(state, { recursive: true, force: true });
}

/**
 * Cloudflare's published prices (Workers Paid plan, beyond the monthly inclusions), as listed on
 * developers.cloudflare.com/{workers,d1,r2,queues}/platform/pricing/ in 2025; check them before
 * relying on the figures. Model tokens are priced per million at a mid-size hosted model's rate.
 */
function costModel(m: {
  frozenBytesPerRecord: number;
  d1BytesPerRecord: number;
  callsPerRecord: number;
  tokensPerRecord: { prompt: number; completion: number };
}) {
  const R = 120_000;
  const price = {
    requestPerM: 0.3,
    d1ReadPerM: 0.001,
    d1WrittenPerM: 1.0,
    d1StorageGbMonth: 0.75,
    r2StorageGbMonth: 0.015,
    r2ClassAPerM: 4.5,
    r2ClassBPerM: 0.36,
    queueOpsPerM: 0.4,
    tokensInPerM: 0.15,
    tokensOutPerM: 0.6,
  };
  const shards = Math.ceil(R / 1000);
  const formats = 2;
  // rows written per record: the row, its primary key and three indexes (D1 bills index writes as
  // rows); a job also writes each source record's outcome (job_record_outcomes: the row and its
  // primary key, 2 rows)
  const rows = {
    ingest: { read: R * 1, written: R * 5 },
    freeze: { read: R, written: shards * formats * 1 },
    ruleJob: { read: R * 2, written: R * 0.5 * 5 + R / 20 + R * 2 },
    traceJob: { read: R * (1 + m.callsPerRecord), written: R * 5 + R * m.callsPerRecord * 2 + R * 2 },
  };
  const requests = { ingest: R / PER_REQUEST, freeze: 1, serve: shards * formats, jobs: (2 * R) / 20 / 5 };
  const queueOps = ((2 * R) / 20) * 3; // a message per step of 20 records: write, read, delete
  const tokens = { prompt: R * m.tokensPerRecord.prompt, completion: R * m.tokensPerRecord.completion };
  const lines: [string, string, number][] = [
    [
      "Workers requests",
      `${fmt(Object.values(requests).reduce((a, b) => a + b, 0))} requests`,
      (Object.values(requests).reduce((a, b) => a + b, 0) / 1e6) * price.requestPerM,
    ],
    [
      "D1 rows read",
      `${fmt(Object.values(rows).reduce((a, r) => a + r.read, 0))} rows`,
      (Object.values(rows).reduce((a, r) => a + r.read, 0) / 1e6) * price.d1ReadPerM,
    ],
    [
      "D1 rows written",
      `${fmt(Object.values(rows).reduce((a, r) => a + r.written, 0))} rows`,
      (Object.values(rows).reduce((a, r) => a + r.written, 0) / 1e6) * price.d1WrittenPerM,
    ],
    [
      "D1 storage (a month)",
      `${fmt((R * m.d1BytesPerRecord) / 1e9, 2)} GB (this run's D1 on disk, scaled to 120K)`,
      ((R * m.d1BytesPerRecord) / 1e9) * price.d1StorageGbMonth,
    ],
    [
      "R2 storage (a month)",
      `${fmt((R * m.frozenBytesPerRecord) / 1e9, 3)} GB`,
      ((R * m.frozenBytesPerRecord) / 1e9) * price.r2StorageGbMonth,
    ],
    ["R2 class A (writes, at freeze)", `${fmt(shards * formats)} puts`, ((shards * formats) / 1e6) * price.r2ClassAPerM],
    [
      "R2 class B (reads, 100 trainer downloads)",
      `${fmt(shards * formats * 100 + shards * formats)} gets/heads`,
      ((shards * formats * 101) / 1e6) * price.r2ClassBPerM,
    ],
    ["Queues (jobs as a message per 20-record step)", `${fmt(queueOps)} operations`, (queueOps / 1e6) * price.queueOpsPerM],
    [
      "model tokens (TRACE construction)",
      `${fmt(tokens.prompt / 1e6, 1)}M in + ${fmt(tokens.completion / 1e6, 1)}M out (the fake model's counts, ${fmt(m.callsPerRecord, 1)} calls per record)`,
      (tokens.prompt / 1e6) * price.tokensInPerM + (tokens.completion / 1e6) * price.tokensOutPerM,
    ],
  ];
  say("\ncost model, 120,000 records (beyond the Workers Paid plan's $5/month inclusions, which cover most of it):");
  say("| item | volume | USD |");
  say("|---|---|---:|");
  for (const [item, volume, usd] of lines) say(`| ${item} | ${volume} | ${usd.toFixed(usd < 1 ? 4 : 2)} |`);
  say(
    `prices: Workers $${price.requestPerM}/M requests; D1 $${price.d1ReadPerM}/M rows read, $${price.d1WrittenPerM}/M rows written, $${price.d1StorageGbMonth}/GB-month; ` +
      `R2 $${price.r2StorageGbMonth}/GB-month, $${price.r2ClassAPerM}/M class A, $${price.r2ClassBPerM}/M class B, no egress fee; Queues $${price.queueOpsPerM}/M operations ` +
      `(developers.cloudflare.com pricing pages, 2025); tokens at $${price.tokensInPerM}/M in and $${price.tokensOutPerM}/M out (a gpt-4o-mini-class model).`,
  );
}
