// Starts `npm start`'s server (scripts/start.mjs) on a free port with its own local D1, for
// benchmarks, end-to-end tests and the demo. Resolves once the API answers and seeding is done.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../wrangler-env.mjs";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** The workerd processes among the descendants of `rootPid` (a started server's child). */
export function workerdPids(rootPid) {
  return descendantPids(rootPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd");
    } catch {
      return false; // ended
    }
  });
}

/** Every process below `rootPid`. */
export function descendantPids(rootPid) {
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop();
    let kids = "";
    try {
      kids = execFileSync("pgrep", ["-P", String(p)], { encoding: "utf8" });
    } catch {
      kids = "";
    }
    for (const k of kids.split("\n").filter(Boolean)) stack.push(Number(k)), out.push(Number(k));
  }
  return out;
}

/** Signals `pid` if it still runs this checkout's code (a pid freed and reused by another process is left alone). */
function signalOurs(pid, signal) {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(root)) process.kill(pid, signal);
  } catch {
    // gone
  }
}

/** Waits (at most `timeoutMs`) until none of `pids` runs: each is gone or a zombie (which holds no files). */
async function untilGone(pids, timeoutMs = 10_000) {
  const running = (pid) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  for (const deadline = Date.now() + timeoutMs; pids.some(running) && Date.now() < deadline; )
    await new Promise((resolve) => setTimeout(resolve, 50));
}

export function readAdminToken() {
  const text = readFileSync(join(root, ".dev.vars"), "utf8");
  return /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(text)[1];
}

/**
 * @param {{ persistTo?: string, timeoutMs?: number, env?: Record<string,string> }} [options]
 * @returns {Promise<{ base: string, port: number, adminToken: string, child: import("node:child_process").ChildProcess, output: () => string, stop: () => Promise<void>, kill: () => Promise<void> }>}
 */
export async function startServer(options = {}) {
  // A port found free can be taken by another process before wrangler binds it (parallel tests and
  // benchmarks each start servers): then try again on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test(String(error?.message))) throw error;
    }
  }
}

async function startServerOnce(options) {
  const port = await freePort();
  const inspector = await freePort();
  const ownState = !options.persistTo;
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "iopo-state-"));
  const child = spawn(process.execPath, [join(root, "scripts/start.mjs"), "--port", String(port)], {
    cwd: root,
    env: { ...process.env, ...options.env, IOPO_PERSIST_TO: persistTo, IOPO_INSPECTOR_PORT: String(inspector) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  // wrangler and workerd run in a process group of their own (scripts/start.mjs): both groups are signalled
  const signalAll = (signal) => {
    for (const pid of [child.pid, ...descendantPids(child.pid)]) signalOurs(pid, signal);
  };
  /** Kills the server at once, as a crash or a power cut would, and keeps its state for a restart. */
  const kill = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const tree = descendantPids(child.pid);
    signalAll("SIGKILL");
    await exited;
    // workerd holds the local D1's SQLite files: a restart must not begin before it has died
    await untilGone(tree);
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const tree = descendantPids(child.pid);
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // gone
          }
          resolve();
        }, 5000);
        child.once("exit", () => (clearTimeout(timer), resolve()));
      });
      for (const pid of tree) signalOurs(pid, "SIGKILL"); // anything that outlived start.mjs
    }
    if (ownState) rmSync(persistTo, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (!output.includes("iopo: API on")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the server did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base: `http://127.0.0.1:${port}`, port, adminToken: readAdminToken(), child, output: () => output, stop, kill };
}
