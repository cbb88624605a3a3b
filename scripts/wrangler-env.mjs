// Environment for every wrangler call the project makes: offline, quiet, non-interactive.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
// Run wrangler's entry with this very Node (22 from the `node` devDependency when started by npm),
// and keep node_modules/.bin first on PATH for anything wrangler spawns.
const wranglerEntry = `${root}node_modules/wrangler/bin/wrangler.js`;
export const wranglerCommand = (args) => [process.execPath, [wranglerEntry, ...args]];

export const wranglerEnv = {
  ...process.env,
  PATH: `${root}node_modules/.bin:${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  // wrangler asks before applying migrations when it sees a terminal
  CI: "true",
};

/** Runs wrangler to completion; rejects with its output on failure. */
export function runWrangler(args, { quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(...wranglerCommand(args), { cwd: root, env: wranglerEnv, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
      if (!quiet) process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      output += d;
      if (!quiet) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`wrangler ${args.join(" ")} exited ${code}\n${output}`))));
  });
}
