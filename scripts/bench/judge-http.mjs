// /v1/judge latency over HTTP against the local dev server (prints figures; not a test):
// p50/p99 at 1 and 50 concurrent clients, rule-only judgements drawn from IFEval's GPT-4 set.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "../lib/server.mjs";
import { root } from "../wrangler-env.mjs";

const shared = join(root, "data/ifeval");
const prompts = readFileSync(join(shared, "input_data_gpt4_20231107_145030.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const responses = new Map(
  readFileSync(join(shared, "input_response_data_gpt4_20231107_145030.jsonl"), "utf8").trim().split("\n").map((l) => {
    const r = JSON.parse(l);
    return [r.prompt, r.response];
  }),
);
const bodies = prompts.map((p) =>
  JSON.stringify({
    response: responses.get(p.prompt),
    constraints: p.instruction_id_list.map((id, i) => ({ id, kwargs: Object.fromEntries(Object.entries(p.kwargs[i]).filter(([, v]) => v !== null)) })),
    mode: "strict",
  }),
);

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

// with a key: thousands of anonymous requests a minute from one address are rate-limited (429)
let headers;
async function run(base, concurrency, total, request = (body) => fetch(`${base}/v1/judge`, { method: "POST", headers, body })) {
  const latencies = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const body = bodies[next++ % bodies.length];
        const start = performance.now();
        const res = await request(body);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        latencies.push(performance.now() - start);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: total / seconds };
}

const server = await startServer();
headers = { "content-type": "application/json", authorization: `Bearer ${server.adminToken}` };
try {
  await run(server.base, 4, 600); // warm-up: isolate start, language profiles, Punkt tables
  const rows = [];
  for (const concurrency of [1, 50]) rows.push({ concurrency, ...(await run(server.base, concurrency, concurrency === 1 ? 1082 : 5410)) });
  // the same request through wrangler's dev proxy, the middleware chain and schema validation,
  // refused (422) just before judging: the difference is the judging itself
  const refused = bodies.map((b) => b.replace('"mode":"strict"', '"mode":"refused"'));
  let i = 0;
  const baseline = await run(server.base, 1, 1082, () =>
    fetch(`${server.base}/v1/judge`, { method: "POST", headers, body: refused[i++ % refused.length] }).then((r) => new Response(r.body, { status: 200 })),
  );
  console.log("\n/v1/judge over HTTP (wrangler dev on 127.0.0.1, IFEval GPT-4 items, 1.5 constraints each, strict)");
  console.log("| clients | p50 | p99 | requests/s |");
  console.log("|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.concurrency} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${Math.round(r.rps)} |`);
  console.log(`| 1 (same requests refused before judging) | ${baseline.p50.toFixed(2)} ms | ${baseline.p99.toFixed(2)} ms | ${Math.round(baseline.rps)} |`);
  const inWorker = rows[0].p50 - baseline.p50;
  console.log(`\njudging inside the Worker ≈ p50(judge) - p50(refused) = ${inWorker.toFixed(2)} ms; target 2 ms -> ${(2 / Math.max(inWorker, 0.01)).toFixed(1)}x under`);
} finally {
  await server.stop();
}
