// The Worker as deployed, run by the Miniflare that wrangler itself uses (no `wrangler dev` proxy
// in front), and the CPU time Linux charges to a process: for the benchmarks in scripts/bench/.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../wrangler-env.mjs";

// The Miniflare that wrangler depends on (not a dependency of the project itself).
const { Miniflare, convertV4MiniflareOptions } = createRequire(createRequire(join(root, "package.json")).resolve("wrangler/package.json"))(
  "miniflare",
);

/** Bundles the Worker as `wrangler deploy` would; returns what startWorkerd needs. */
export function bundleWorker() {
  const outdir = mkdtempSync(join(tmpdir(), "iopo-bundle-"));
  try {
    execFileSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], {
      cwd: root,
      stdio: "ignore",
    });
    const script = readFileSync(
      join(
        outdir,
        readdirSync(outdir).find((f) => f.endsWith(".js")),
      ),
    );
    const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
    const vars = Object.fromEntries(
      [...toml.slice(toml.indexOf("[vars]"), toml.indexOf("[[d1_databases]]")).matchAll(/^([A-Z_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)[1];
    return { script, vars, compatibilityDate };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A fresh workerd process running the bundle (in-memory D1); `await mf.ready` is its URL. */
export function startWorkerd({ script, vars, compatibilityDate }) {
  return new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: "iopo",
          modules: [{ type: "ESModule", path: "index.js", contents: script }],
          compatibilityDate,
          compatibilityFlags: ["nodejs_compat"],
          bindings: vars,
          d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
        },
      ],
    }),
  );
}

/** The workerd process that a Miniflare of this process started (a child of this process). */
export function workerdPid() {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === process.pid && stat.includes("(workerd)")) return Number(entry);
    } catch {
      // gone
    }
  }
  throw new Error("no workerd child process found (these benchmarks read Linux's /proc)");
}

/** CPU time charged to all threads of `pid` (or only its main thread) so far, in nanoseconds (0 once it is gone). */
export function cpuNs(pid, mainThreadOnly = false) {
  let total = 0;
  let tasks;
  try {
    tasks = mainThreadOnly ? [String(pid)] : readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const task of tasks) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // thread exited
    }
  }
  return total;
}
