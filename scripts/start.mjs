// `npm start`: make sure a local admin token exists, migrate the local D1, serve the API on
// 127.0.0.1 (PORT or --port, default 8787), seed the reference data (data/) through the API, and
// only then announce the URL.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { migrateLocal } from "./migrate.mjs";
import { seedReferenceData } from "./seed.mjs";
import { root, wranglerCommand, wranglerEnv } from "./wrangler-env.mjs";

const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const port = Number(portArg >= 0 ? args[portArg + 1] : (process.env.PORT ?? 8787));
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`iopo: invalid port "${portArg >= 0 ? args[portArg + 1] : process.env.PORT}"`);
  process.exit(2);
}

const devVars = `${root}.dev.vars`;
const adminToken = ensureAdminToken();
await migrateLocal();

const base = `http://127.0.0.1:${port}`;
// IOPO_PERSIST_TO: keep the local D1 elsewhere than .wrangler/state (tests use a temp dir);
// IOPO_INSPECTOR_PORT: move wrangler's devtools port off 9229 when running several servers.
const devArgs = [
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  String(port),
  "--local",
  "--show-interactive-dev-session=false",
  "--log-level",
  "warn",
];
if (process.env.IOPO_PERSIST_TO) devArgs.push("--persist-to", process.env.IOPO_PERSIST_TO);
if (process.env.IOPO_INSPECTOR_PORT) devArgs.push("--inspector-port", process.env.IOPO_INSPECTOR_PORT);
// IOPO_DEV_VARS: a JSON object of Worker variables for this run only (tests point LLM_* at a fake provider)
for (const [name, value] of Object.entries(JSON.parse(process.env.IOPO_DEV_VARS ?? "{}"))) devArgs.push("--var", `${name}:${value}`);
// wrangler runs in a process group of its own (its node, esbuild and the workerd processes), so that
// stopping is one signal to the whole group: wrangler alone would leave workerd serving.
const dev = spawn(...wranglerCommand(devArgs), { cwd: root, env: wranglerEnv, stdio: "inherit", detached: true });
const signalDev = (signal) => {
  try {
    process.kill(-dev.pid, signal);
  } catch {
    // the group is gone already
  }
};
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  signalDev("SIGTERM");
  // a group that ignores SIGTERM for 5 s is killed
  setTimeout(() => signalDev("SIGKILL"), 5000).unref();
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, stop);
// `kill <npm's pid>`: npm passes SIGTERM to the shell it started, which dies without passing it on,
// and this process is re-parented. Losing the parent means stop.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop(), 500).unref();
/** Stops the server and exits 1 once it is down. */
const fail = (message) => {
  console.error(message);
  process.exitCode = 1;
  stop();
};
dev.on("exit", (code, signal) => {
  signalDev("SIGKILL"); // anything of the group that outlived wrangler
  process.exit(process.exitCode ?? (stopping ? 0 : (code ?? (signal ? 0 : 1))));
});

try {
  await waitForHealth(base);
  // Ready means ready: the URL is announced only once the reference datasets are all there.
  const seeding = await seedReferenceData({ base, adminToken }).catch((error) => {
    throw new Error(`seeding the reference datasets failed: ${error instanceof Error ? error.message : error}`);
  });
  if (!seeding.complete) throw new Error(`seeding the reference datasets failed: incomplete: ${JSON.stringify(seeding.datasets)}`);
  console.log(`iopo: API on ${base}  (reference: ${base}/docs; admin token in ${devVars}; Ctrl-C stops it)`);
} catch (error) {
  fail(`iopo: ${error instanceof Error ? error.message : error}`);
}

function ensureAdminToken() {
  const existing = existsSync(devVars) ? readFileSync(devVars, "utf8") : "";
  const match = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(existing);
  if (match) return match[1];
  const token = `iopo_admin_${randomBytes(24).toString("base64url")}`;
  writeFileSync(devVars, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}ADMIN_TOKEN="${token}"\n`, { mode: 0o600 });
  console.log(`iopo: created ${devVars} with a new ADMIN_TOKEN (git-ignored; use it as \`authorization: Bearer <token>\`)`);
  return token;
}

async function waitForHealth(url) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v1/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API did not answer on ${url} within 60 s`);
}
