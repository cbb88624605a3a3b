// /v1/judge latency over HTTP against the local dev server (prints figures; not a test):
// p50/p99 at 1, 50 and 200 concurrent clients, rule-only judgements drawn from IFEval's GPT-4 set,
// and where the time goes: the CPU each process (this client, wrangler's Node process, workerd)
// spends per request, read from Linux's /proc/PID/task/*/schedstat around each run. On a machine
// with few cores the latency at high concurrency is that CPU per request times the queue length.
// `--direct`: against the deployable bundle in workerd alone (Miniflare, as judge-cold.mjs runs
// it), without wrangler dev's proxy process in front, which production does not have either.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startServer } from "../lib/server.mjs";
import { bundleWorker, cpuNs, startWorkerd } from "../lib/workerd.mjs";
import { root } from "../wrangler-env.mjs";

const shared = join(root, "data/ifeval");
const prompts = readFileSync(join(shared, "input_data_gpt4_20231107_145030.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
const responses = new Map(
  readFileSync(join(shared, "input_response_data_gpt4_20231107_145030.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const r = JSON.parse(l);
      return [r.prompt, r.response];
    }),
);
const bodies = prompts.map((p) =>
  JSON.stringify({
    response: responses.get(p.prompt),
    constraints: p.instruction_id_list.map((id, i) => ({
      id,
      kwargs: Object.fromEntries(Object.entries(p.kwargs[i]).filter(([, v]) => v !== null)),
    })),
    mode: "strict",
  }),
);

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** The server's processes (the wrangler tree under `rootPid`), by name, and this client. */
function processes(rootPid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(Number(entry), { name, ppid });
    } catch {
      // gone
    }
  }
  const tree = [];
  const walk = (pid) => {
    for (const [child, { name, ppid }] of children) if (ppid === pid) tree.push({ pid: child, name }), walk(child);
  };
  walk(rootPid);
  return [{ pid: process.pid, name: "client (this benchmark)" }, ...tree.map(({ pid, name }) => ({ pid, name: `${name} ${pid}` }))];
}

// with a key under wrangler dev: thousands of anonymous requests a minute from one address are
// rate-limited (429); the bundle alone (--direct) has no limiter bound
let headers = { "content-type": "application/json" };
async function run(base, concurrency, total, request = (body) => fetch(`${base}/v1/judge`, { method: "POST", headers, body })) {
  const latencies = [];
  let next = 0;
  const procs = processes(serverPid);
  const cpuBefore = procs.map(({ pid }) => cpuNs(pid));
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
  const cpu = procs
    .map(({ name, pid }, i) => ({ name, msPerRequest: (cpuNs(pid) - cpuBefore[i]) / 1e6 / total }))
    .filter((p) => p.msPerRequest > 0.005);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), rps: total / seconds, cpu };
}

// Not strict: `npm run bench` hands the same options to every benchmark it runs.
const { values } = parseArgs({ options: { direct: { type: "boolean", default: false } }, strict: false });
const server = values.direct ? await directServer() : await startServer();
const serverPid = server.child.pid;
if (server.adminToken) headers = { ...headers, authorization: `Bearer ${server.adminToken}` };

/** The bundle in one workerd process, shaped like startServer's result. */
async function directServer() {
  const mf = startWorkerd(bundleWorker());
  const url = await mf.ready;
  return { base: url.origin, child: { pid: process.pid }, stop: () => mf.dispose() };
}
try {
  await run(server.base, 4, 600); // warm-up: isolate start, language profiles, Punkt tables
  const rows = [];
  for (const concurrency of [1, 50, 200])
    rows.push({ concurrency, ...(await run(server.base, concurrency, concurrency === 1 ? 1082 : 5410)) });
  // the same request through wrangler's dev proxy, the middleware chain and schema validation,
  // refused (422) just before judging: the difference is the judging itself
  const refused = bodies.map((b) => b.replace('"mode":"strict"', '"mode":"refused"'));
  let i = 0;
  const baseline = await run(server.base, 1, 1082, () =>
    fetch(`${server.base}/v1/judge`, { method: "POST", headers, body: refused[i++ % refused.length] }).then(
      (r) => new Response(r.body, { status: 200 }),
    ),
  );
  console.log(
    `\n/v1/judge over HTTP (${values.direct ? "the bundle in workerd alone, no dev proxy" : "wrangler dev"} on 127.0.0.1, IFEval GPT-4 items, 1.5 constraints each, strict)`,
  );
  console.log("| clients | p50 | p99 | requests/s |");
  console.log("|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.concurrency} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${Math.round(r.rps)} |`);
  console.log(
    `| 1 (same requests refused before judging) | ${baseline.p50.toFixed(2)} ms | ${baseline.p99.toFixed(2)} ms | ${Math.round(baseline.rps)} |`,
  );
  const inWorker = rows[0].p50 - baseline.p50;
  console.log("\nCPU per request, by process (ms):");
  const names = [...new Set(rows.flatMap((r) => r.cpu.map((p) => p.name)))];
  console.log(`| clients | ${names.join(" | ")} | all |\n|---:|${names.map(() => "---:|").join("")}---:|`);
  for (const r of rows) {
    const by = new Map(r.cpu.map((p) => [p.name, p.msPerRequest]));
    const all = r.cpu.reduce((n, p) => n + p.msPerRequest, 0);
    console.log(`| ${r.concurrency} | ${names.map((n) => (by.get(n) ?? 0).toFixed(2)).join(" | ")} | ${all.toFixed(2)} |`);
  }
  console.log(
    `\njudging inside the Worker ≈ p50(judge) - p50(refused) = ${inWorker.toFixed(2)} ms; target 2 ms -> ${(2 / Math.max(inWorker, 0.01)).toFixed(1)}x under`,
  );
} finally {
  await server.stop();
}
