// Cold start of the judge in workerd (prints figures; not a test): the CPU time of the first
// request of a fresh isolate that needs language detection, the Workers free plan allowing 10 ms.
//
//   node scripts/bench/judge-cold.mjs [--samples 5]
//
// Method. The Worker is bundled as for deployment (`wrangler deploy --dry-run`) and run by the
// Miniflare that wrangler itself uses, one fresh workerd process per sample, so every sample's
// first request meets a fresh isolate (its module evaluated at start-up, nothing run yet). Around
// each request we read the CPU time that the kernel has charged to the threads of that workerd
// process (/proc/PID/task/*/schedstat, nanoseconds, user + system) once workerd is idle again; the
// difference is the CPU the request cost, measured from outside, so workerd's coarse in-Worker
// timers (Spectre mitigations) play no part. Two columns: workerd's main thread, which runs the
// isolate (and also parses HTTP and runs Miniflare's entry worker, which the "floor" row, a warm
// 404, shows), and the whole process, which adds V8's background threads (optimising compiles,
// GC helpers). The main thread less the floor is the closest figure to what Cloudflare bills.
// Rows: the first request (POST /v1/judge, `language:response_language` on a 1,000-character
// English response), the same request again (warm), and the first request of another fresh
// isolate that needs no language detection (`punctuation:no_comma`); and, for scale, the CPU that
// workerd spent starting (Cloudflare limits start-up separately from requests).
import { parseArgs } from "node:util";
import { bundleWorker, cpuNs, startWorkerd, workerdPid } from "../lib/workerd.mjs";

// Not strict: `npm run bench` hands the same options to every benchmark it runs.
const { values } = parseArgs({ options: { samples: { type: "string", default: "5" } }, strict: false });
const samples = Number(values.samples);

const response =
  "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of salt and wind. " +
  "Every evening the keeper climbed the spiral stairs to light the lamp, although no ship had passed that way in years. " +
  "People in the village said he was stubborn, but he believed that a light should shine whether or not anyone needs it. " +
  "One stormy night a small fishing boat lost its way in the fog, and the sailors saw the beam sweeping across the waves. " +
  "They followed it home and arrived safely in the harbour before dawn. The next morning they climbed the hill to thank him, " +
  "and found him asleep in his chair with a cup of cold tea beside him. From then on the villagers helped him paint the tower " +
  "every spring, and the children took turns carrying oil up the stairs. The light still shines today, and the story is told to every visitor.";
const judgeBody = (constraint) => JSON.stringify({ response, constraints: [constraint], mode: "strict" });
const LANGUAGE = judgeBody({ id: "language:response_language", kwargs: { language: "en" } });
const NO_COMMA = judgeBody({ id: "punctuation:no_comma" });

const bundle = bundleWorker();
const rows = { first: [], again: [], firstNoLanguage: [], floor: [], startup: [] };
const mainRows = { first: [], again: [], firstNoLanguage: [], floor: [], startup: [] };
for (let i = 0; i < samples; i++) {
  for (const [body, firstRow] of [
    [LANGUAGE, "first"],
    [NO_COMMA, "firstNoLanguage"],
  ]) {
    const mf = startWorkerd(bundle);
    try {
      const url = await mf.ready;
      const pid = workerdPid();
      const cost = async (row, init, path = "/v1/judge") => {
        await settle(pid);
        const before = cpuNs(pid);
        const beforeMain = cpuNs(pid, true);
        const res = await fetch(new URL(path, url), init);
        await res.arrayBuffer();
        if (path === "/v1/judge" && res.status !== 200) throw new Error(`status ${res.status}`);
        await settle(pid);
        rows[row].push((cpuNs(pid) - before) / 1e6);
        mainRows[row].push((cpuNs(pid, true) - beforeMain) / 1e6);
      };
      const post = { method: "POST", headers: { "content-type": "application/json" }, body };
      if (firstRow === "first") {
        await settle(pid);
        rows.startup.push(cpuNs(pid) / 1e6);
        mainRows.startup.push(cpuNs(pid, true) / 1e6);
      }
      await cost(firstRow, post);
      if (firstRow === "first") {
        await cost("again", post);
        await cost("floor", {}, "/no-such-route");
      }
    } finally {
      await mf.dispose();
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`\nCPU time of one request in workerd (${samples} fresh processes, median; min..max)`);
console.log("| request | main thread ms | whole process ms |\n|---|---:|---:|");
const label = {
  first: "first request of a fresh isolate: POST /v1/judge, language:response_language",
  again: "the same request again (warm isolate)",
  firstNoLanguage: "first request of a fresh isolate: POST /v1/judge, punctuation:no_comma",
  floor: "floor: a warm 404 (HTTP, Miniflare's entry worker, routing)",
  startup: "start-up of workerd until ready (all of Miniflare's services, the Worker's module evaluated)",
};
const cell = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)})`;
for (const key of Object.keys(rows)) console.log(`| ${label[key]} | ${cell(mainRows[key])} | ${cell(rows[key])} |`);
const billed = mainRows.first.map((ms, i) => ms - mainRows.floor[i]);
console.log(
  `\nfirst language request: ${median(mainRows.first).toFixed(1)} ms on workerd's main thread, ${median(billed).toFixed(1)} ms of it above the floor ` +
    `(the Worker's own share); ${median(rows.first).toFixed(1)} ms for the whole process. Goal: at most 10 ms (Workers free plan).`,
);

/** Waits until workerd has used no CPU for 50 ms (background work after a response, start-up). */
async function settle(pid) {
  let last = cpuNs(pid);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const now = cpuNs(pid);
    if (now - last < 200_000) return;
    last = now;
  }
}
