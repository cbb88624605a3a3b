/**
 * Where a session's time goes: ORT's profiler output (Chrome trace-event JSON, written by every ORT
 * flavour when a session has `enableProfiling`) parsed into per-node events, and summarised by op
 * type and by node.
 *
 * Which events mean what. "Node" events ("<node>_kernel_time", `args.op_name`) time each kernel on
 * the host: on the CPU EPs that is the computation, on WebGPU only the dispatch (the GPU runs
 * later). The WebGPU EP adds "Api" events ("<node>&<op>&<program>") timed with GPU timestamp
 * queries: the kernels' device time, which is what to optimise against there. "model_run" session
 * events delimit the runs.
 */
import type { ProfileEvent } from "./types.ts";

interface TraceEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

/** Trace events from ORT's profile text (a JSON array, possibly mixed with other log lines). */
function traceEvents(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split("\n")) {
    const s = line.trim().replace(/,$/, "");
    if (!s.startsWith("{") || !s.includes('"cat"')) continue;
    try {
      out.push(JSON.parse(s) as TraceEvent);
    } catch {
      // a line cut by other output: skip it rather than fail the whole profile
    }
  }
  return out;
}

/** Parse ORT's profile into kernel events, each tagged with the run it belongs to. */
export function parseOrtProfile(text: string): ProfileEvent[] {
  const ev = traceEvents(text);
  const runs = ev
    .filter((e) => e.cat === "Session" && e.name === "model_run")
    .map((e) => [e.ts ?? 0, (e.ts ?? 0) + (e.dur ?? 0)] as const)
    .sort((a, b) => a[0] - b[0]);
  const runOf = (ts: number) => {
    let r = 0;
    for (let i = 0; i < runs.length; i++) if (ts >= runs[i][0]) r = i;
    return r;
  };
  const out: ProfileEvent[] = [];
  for (const e of ev) {
    const ts = e.ts ?? 0;
    const us = e.dur ?? 0;
    if (e.cat === "Node" && e.name?.endsWith("_kernel_time")) {
      const node = e.name.slice(0, -"_kernel_time".length);
      out.push({ node, op: String(e.args?.op_name ?? "?"), us, clock: "host", run: runOf(ts) });
    } else if (e.cat === "Api" && e.name?.includes("&")) {
      const [node, op] = e.name.split("&");
      out.push({ node, op, us, clock: "gpu", run: runOf(ts) });
    }
  }
  return out;
}

export interface ProfileRow {
  name: string;
  op: string;
  /** Microseconds per run. */
  us: number;
  /** Kernels per run. */
  count: number;
  share: number;
}

export interface ProfileSummary {
  clock: "gpu" | "host";
  /** Runs averaged over (the skipped first runs excluded). */
  runs: number;
  /** Microseconds per run, all kernels. */
  totalUs: number;
  byOp: ProfileRow[];
  byNode: ProfileRow[];
}

/**
 * Per-run averages by op type and by node, largest first. Device time when the profile has it
 * (WebGPU), else host time; `skipRuns` drops warm-up runs (shader compilation, allocation).
 */
export function summarizeProfile(events: readonly ProfileEvent[], opts: { skipRuns?: number } = {}): ProfileSummary {
  const clock = events.some((e) => e.clock === "gpu") ? "gpu" : "host";
  const maxRun = Math.max(-1, ...events.map((e) => e.run));
  const skip = Math.min(opts.skipRuns ?? 0, maxRun);
  const kept = events.filter((e) => e.clock === clock && e.run >= skip);
  const runs = Math.max(1, maxRun + 1 - skip);
  const group = (key: (e: ProfileEvent) => string) => {
    const m = new Map<string, ProfileRow>();
    for (const e of kept) {
      const k = key(e);
      const r = m.get(k) ?? { name: k, op: e.op, us: 0, count: 0, share: 0 };
      r.us += e.us / runs;
      r.count += 1 / runs;
      m.set(k, r);
    }
    return [...m.values()].sort((a, b) => b.us - a.us);
  };
  const byOp = group((e) => e.op);
  const byNode = group((e) => e.node);
  const totalUs = byOp.reduce((s, r) => s + r.us, 0);
  for (const r of [...byOp, ...byNode]) r.share = totalUs > 0 ? r.us / totalUs : 0;
  return { clock, runs, totalUs, byOp, byNode };
}

/** The summary as two text tables (op types, then the `top` most expensive nodes). */
export function formatProfile(s: ProfileSummary, top = 15): string {
  const ms = (us: number) => (us / 1000).toFixed(3).padStart(10);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const lines = [
    `${s.clock === "gpu" ? "device (GPU timestamp)" : "host"} time per run, mean of ${s.runs} run(s): ${(s.totalUs / 1000).toFixed(2)} ms in kernels`,
    `${"op type".padEnd(28)} ${"ms/run".padStart(10)} ${"share".padStart(7)} ${"kernels".padStart(8)}`,
    ...s.byOp.map((r) => `${r.name.padEnd(28)} ${ms(r.us)} ${pct(r.share)} ${Math.round(r.count).toString().padStart(8)}`),
    "",
    `${"node".padEnd(40)} ${"op".padEnd(20)} ${"ms/run".padStart(10)} ${"share".padStart(7)}`,
    ...s.byNode.slice(0, top).map((r) => `${r.name.slice(0, 40).padEnd(40)} ${r.op.slice(0, 20).padEnd(20)} ${ms(r.us)} ${pct(r.share)}`),
  ];
  return lines.join("\n");
}
