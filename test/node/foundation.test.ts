import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { VERSION } from "../../src/version.ts";

const root = join(import.meta.dirname, "../..");
const node = process.execPath;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

describe("project", () => {
  it("reports the package version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it("runs `iopo` and `iopo-train` on the project's Node 22, also when started by the system's Node", async () => {
    const pinned = (JSON.parse(readFileSync(join(root, "node_modules/node/package.json"), "utf8")) as { version: string }).version;
    // every node on PATH outside the project (the system's, v20 on this machine), and the project's own
    const systemNodes = (process.env.PATH ?? "")
      .split(":")
      .filter((dir) => dir && !dir.includes("node_modules"))
      .map((dir) => join(dir, "node"))
      .filter((path) => existsSync(path));
    for (const starter of [...new Set([...systemNodes, node])]) {
      for (const [bin, name] of [
        ["bin/iopo.mjs", "iopo"],
        ["gpu-trainer/bin/iopo-train.mjs", "iopo-train"],
      ]) {
        const out = await run(starter, [join(root, bin!), "--version"], 60_000);
        expect(out.trim(), `${starter} ${bin}`).toBe(`${name} ${VERSION} (Node v${pinned})`);
      }
    }
  }, 120_000);

  it("bundles a Worker well under Cloudflare's 3 MB (compressed) free-plan limit", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "iopo-bundle-"));
    try {
      await run(node, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], 120_000);
      const bundle = readdirSync(outdir).find((f) => f.endsWith(".js"))!;
      const bytes = readFileSync(join(outdir, bundle));
      const gzipped = gzipSync(bytes).length;
      console.log(
        `worker bundle: ${(statSync(join(outdir, bundle)).size / 1024).toFixed(0)} KiB, ${(gzipped / 1024).toFixed(0)} KiB gzipped`,
      );
      expect(gzipped).toBeLessThan(3 * 1024 * 1024);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("npm start", () => {
  let server: ChildProcess | undefined;
  const state = mkdtempSync(join(tmpdir(), "iopo-state-"));
  afterAll(() => {
    server?.kill("SIGTERM");
    rmSync(state, { recursive: true, force: true });
  });

  it("migrates a fresh local D1 and serves the API on 127.0.0.1", async () => {
    const port = await freePort();
    const inspector = await freePort();
    // through npm, as a user starts it (npm_execpath: the npm running this suite)
    const npm = process.env.npm_execpath ? [node, process.env.npm_execpath] : ["npm"];
    server = spawn(npm[0]!, [...npm.slice(1), "start", "--", "--port", String(port)], {
      cwd: root,
      env: { ...process.env, IOPO_PERSIST_TO: state, IOPO_INSPECTOR_PORT: String(inspector) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    server.stdout!.on("data", (d) => (output += d));
    server.stderr!.on("data", (d) => (output += d));
    const ready = await waitFor(() => output.includes("iopo: API on"), 90_000);
    expect(ready, output).toBe(true);
    expect(output).toMatch(/applied \d+ migration/);

    const health = (await (await fetch(`http://127.0.0.1:${port}/v1/health`)).json()) as {
      status: string;
      d1: { migrations_applied: number };
      reference_data: { complete: boolean };
    };
    expect(health.status).toBe("ok");
    // announced only once seeded: the three reference datasets, from the repository's data/
    expect(health.reference_data.complete).toBe(true);
    const listed = (await (await fetch(`http://127.0.0.1:${port}/v1/datasets`)).json()) as {
      datasets: { name: string; record_count: number }[];
    };
    expect(Object.fromEntries(listed.datasets.map((d) => [d.name, d.record_count]))).toMatchObject({
      "trace-eval": 1042,
      ifeval: 541,
      ifbench: 300,
    });
    const migrations = readdirSync(join(root, "migrations")).filter((f) => f.endsWith(".sql")).length;
    expect(health.d1.migrations_applied).toBe(migrations);
    const taxonomy = (await (await fetch(`http://127.0.0.1:${port}/v1/taxonomy`)).json()) as { types: unknown[] };
    expect(taxonomy.types).toHaveLength(5);

    // the admin token from .dev.vars works against the running server
    const token = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync(join(root, ".dev.vars"), "utf8"))![1];
    const created = await fetch(`http://127.0.0.1:${port}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "start test", scopes: ["read"] }),
    });
    expect(created.status).toBe(201);

    // SIGTERM to the npm process alone stops everything under it: start.mjs, wrangler, workerd
    const tree = descendants(server.pid!);
    expect(tree.some((pid) => commandOf(pid).includes("workerd"))).toBe(true);
    server.kill("SIGTERM");
    const allGone = await waitFor(() => tree.every((pid) => !alive(pid)), 15_000);
    expect(allGone, `still running: ${tree.filter(alive).map(commandOf).join("\n")}`).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/v1/health`)).rejects.toThrow();
  }, 150_000);
});

/** Every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const children = (p: number) =>
    readdirSync(`/proc/${p}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${p}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) for (const child of children(stack.pop()!)) out.push(child), stack.push(child);
  return out;
}

function alive(pid: number): boolean {
  try {
    // a zombie (exited, not yet reaped) is not running
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "(gone)";
  }
};

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return predicate();
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${args.join(" ")} exited ${code}\n${output}`));
    });
  });
}
