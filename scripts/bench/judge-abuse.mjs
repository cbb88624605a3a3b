// The judge under abuse (prints figures; not a test): the most expensive requests the caps allow
// (LIMITS in @iopo/common, as GET /v1/checkers serves them in `limits`), each sent to the local dev server, and the
// latency of GET /v1/health while the worst of them runs back to back. Targets (issue 11): the
// worst case under 250 ms, health under 300 ms meanwhile.
import { readFileSync } from "node:fs";
import { startServer, workerdPids } from "../lib/server.mjs";

// English-like text with sentences, paragraphs, capitals and a few "*", so that every analysis
// (sentences, tokens, POS tags, loose variants) has work to do. Deterministic.
const VOCABULARY =
  "the river runs past old stone bridges while she writes about them and he reads her notes to us before the Night falls over Paris where they walk slowly I think it is Beautiful".split(
    " ",
  );
function english(chars) {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  let out = "";
  while (out.length < chars) {
    const words = Array.from({ length: 6 + (next() % 12) }, () => VOCABULARY[next() % VOCABULARY.length]);
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    out += `${words.join(" ")}${next() % 5 === 0 ? "?" : "."}${next() % 7 === 0 ? "\n\n" : next() % 11 === 0 ? " *note* " : " "}`;
  }
  return out.slice(0, chars);
}

const c = (id, kwargs = {}) => ({ id, kwargs });
// The costliest checkers per character measured (a shared analysis each, or their own passes).
const HEAVY = [
  c("count:pronouns", { N: 1 }),
  c("ratio:overlap", { reference_text: english(20_000), percentage: 50 }),
  c("format:title_case"),
  c("change_case:capital_word_frequency", { capital_frequency: 3, capital_relation: "at least" }),
  c("words:start_verb"),
  c("words:words_position", { keyword: "the" }),
  c("language:response_language", { language: "en" }),
  c("format:quote_unquote"),
  c("ratio:sentence_balance"),
  c("length_constraints:number_sentences", { num_sentences: 3, relation: "at least" }),
  c("count:unique_word_count", { N: 10 }),
  c("detectable_format:number_bullet_lists", { num_bullets: 2 }),
];
const heavy = (n) => Array.from({ length: n }, (_, i) => HEAVY[i % HEAVY.length]);
// in batches, a short reference text: 1,000 copies of a 20,000-character one exceed the body limit
const heavyForBatch = (n) => heavy(n).map((k) => (k.id === "ratio:overlap" ? c(k.id, { ...k.kwargs, reference_text: english(200) }) : k));
const forbidden = (n) => c("keywords:forbidden_words", { forbidden_words: Array.from({ length: n }, (_, i) => `absent${i}`) });

const VARIANTS = { strict: 1, loose: 8, both: 9 };
/** The route's own formula (judgementWork in @iopo/common), to fill each shape up to the budget. */
let limits; // GET /v1/checkers `limits`, read once the server is up
const work = (chars, constraints, mode) =>
  Math.ceil(
    (chars + limits.work_chars_per_check) *
      VARIANTS[mode] *
      constraints.reduce(
        (w, k) =>
          w +
          1 +
          Object.values(k.kwargs)
            .filter(Array.isArray)
            .reduce((n, a) => n + a.length / 32, 0),
        1,
      ),
  );
/** The longest response (≤ `response_chars`) that keeps `constraints` in `mode` within `budget`. */
function fill(constraints, mode, budget) {
  let lo = 0;
  let hi = limits.response_chars;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (work(mid, constraints, mode) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * CPU time (ms) the server's workerd processes have used: the judge's own work, which other
 * processes on a busy machine do not inflate as they do wall-clock latency.
 */
const TICK_MS = 10; // USER_HZ = 100 on Linux
function workerdCpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // ended
    }
  }
  return ticks * TICK_MS;
}

const server = await startServer();
const pids = workerdPids(server.child.pid);
const auth = { authorization: `Bearer ${server.adminToken}` };
const post = (path, body) =>
  fetch(`${server.base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body });

try {
  ({ limits } = await (await fetch(`${server.base}/v1/checkers`, { headers: auth })).json());
  const budget = limits.max_work_per_request;
  const most = limits.constraints_per_item;
  const single = (label, constraints, mode) => {
    const chars = fill(constraints, mode, budget);
    return {
      label: `${label}: ${chars} chars, ${constraints.length} constraint(s), ${mode}`,
      path: "/v1/judge",
      body: JSON.stringify({ response: english(chars), constraints, mode }),
    };
  };
  const batch = (label, item, mode) => {
    const one = work(item.response.length, item.constraints, mode);
    const n = Math.min(limits.items_per_batch, Math.floor(budget / one));
    return {
      label: `${label}: ${n} items`,
      path: "/v1/judge/batch",
      body: JSON.stringify({ items: Array.from({ length: n }, () => ({ ...item, mode })) }),
    };
  };
  const shapes = [
    single("longest response, 3 heaviest", heavy(3), "strict"),
    single("12 heaviest", heavy(12), "strict"),
    single(`${most} heaviest`, heavy(most), "strict"),
    single(`${limits.kwargs_list_items} forbidden words`, [forbidden(limits.kwargs_list_items)], "strict"),
    single("3 heaviest, loose", heavy(3), "loose"),
    single("12 heaviest, both", heavy(12), "both"),
    batch(`batch of 1-char responses × ${most} heaviest`, { response: "a", constraints: heavyForBatch(most) }, "strict"),
    batch("batch of 200-char responses × 12 heaviest, both", { response: english(200), constraints: heavyForBatch(12) }, "both"),
    batch("batch of 2,000-char responses × 3 heaviest", { response: english(2000), constraints: heavyForBatch(3) }, "strict"),
  ];

  // warm-up: isolate start, Punkt tables, language profiles, the POS lexicon
  for (const s of shapes) {
    const res = await post(s.path, s.body);
    if (res.status !== 200) throw new Error(`${s.label}: status ${res.status} ${(await res.text()).slice(0, 600)}`);
    await res.arrayBuffer();
  }

  const rows = [];
  for (const s of shapes) {
    const times = [];
    const cpu0 = workerdCpuMs(pids);
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await post(s.path, s.body);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${s.label}: status ${res.status} ${await res.text()}`);
      times.push(performance.now() - t0);
    }
    const cpu = (workerdCpuMs(pids) - cpu0) / 5;
    times.sort((a, b) => a - b);
    rows.push({ ...s, median: times[2], max: times[4], cpu });
  }
  // the same over-budget request refused before judging: the cost of the trip and the parsing
  const refusedBody = JSON.stringify({ response: english(limits.response_chars), constraints: heavy(most), mode: "both" });
  const refused = [];
  const refusedCpu0 = workerdCpuMs(pids);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const res = await post("/v1/judge", refusedBody);
    await res.arrayBuffer();
    if (res.status !== 422) throw new Error(`over-budget request: status ${res.status}`);
    refused.push(performance.now() - t0);
  }
  refused.sort((a, b) => a - b);
  const refusedCpu = (workerdCpuMs(pids) - refusedCpu0) / 5;

  const worst = rows.reduce((a, b) => (b.cpu > a.cpu ? b : a));
  // health while the worst request runs back to back, one at a time
  let running = true;
  const load = (async () => {
    while (running) await (await post(worst.path, worst.body)).arrayBuffer();
  })();
  await new Promise((r) => setTimeout(r, 200));
  const health = [];
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const t0 = performance.now();
    await (await fetch(`${server.base}/v1/health`)).arrayBuffer();
    health.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  running = false;
  await load;
  health.sort((a, b) => a - b);
  const idle = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await (await fetch(`${server.base}/v1/health`)).arrayBuffer();
    idle.push(performance.now() - t0);
  }
  idle.sort((a, b) => a - b);

  const [load1] = readFileSync("/proc/loadavg", "utf8").split(" ");
  console.log(
    `\nThe most expensive requests the caps allow (budget ${budget} character-checks; wrangler dev on 127.0.0.1, 5 runs each; load average ${load1})`,
  );
  console.log("| request | body | workerd CPU per request | latency median | latency max |");
  console.log("|---|---:|---:|---:|---:|");
  const row = (label, bytes, cpu, sorted) =>
    console.log(
      `| ${label} | ${(bytes / 1024).toFixed(0)} KiB | ${cpu.toFixed(0)} ms | ${sorted[2].toFixed(0)} ms | ${sorted[4].toFixed(0)} ms |`,
    );
  for (const r of rows) row(r.label, r.body.length, r.cpu, [0, 0, r.median, 0, r.max]);
  row("(an over-budget request, refused with 422 before judging)", refusedBody.length, refusedCpu, refused);
  console.log(
    `\nworst case: ${worst.label}: ${worst.cpu.toFixed(0)} ms of CPU in workerd, latency ${worst.median.toFixed(0)} ms median, ${worst.max.toFixed(0)} ms max (target < 250 ms)`,
  );
  const p = (q) => health[Math.min(health.length - 1, Math.floor(q * health.length))].toFixed(0);
  console.log(
    `GET /v1/health while it runs back to back: ${health.length} probes, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${health.at(-1).toFixed(0)} ms (target < 300 ms); idle p50 ${idle[25].toFixed(1)} ms`,
  );
} finally {
  await server.stop();
}
