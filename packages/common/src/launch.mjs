// The command lines' launcher (`npx iopo`, `npx iopo-train`): runs a TypeScript CLI's `main` through
// tsx, so no build step is needed after `npm ci`. Plain JavaScript: it runs before tsx is loaded.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Run `main(argv)` of the TypeScript module at `mainUrl` and exit with its status. `binUrl` is the
 * bin file's own URL: npx puts the project's Node 22 (the `node` devDependency) first on PATH, and
 * when the bin is started by an older Node anyway (a direct path, a global npx), it is started
 * again under that Node 22.
 */
export async function launch(binUrl, mainUrl) {
  if (Number(process.versions.node.split(".")[0]) < 22) {
    const node22 = createRequire(binUrl).resolve("node/bin/node");
    const run = spawnSync(node22, [fileURLToPath(binUrl), ...process.argv.slice(2)], { stdio: "inherit" });
    process.exit(run.status ?? 1);
  }
  endQuietlyOnClosedPipe();
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import(mainUrl);
  process.exitCode = await main(process.argv.slice(2));
}

/**
 * A reader that stops early (`iopo ifbench … | head -5`) closes the pipe: Node then reports EPIPE
 * as an 'error' event, which unhandled is a stack trace and exit status 1. Like any Unix tool, the
 * command goes on without that stream (its files are still written) and exits with its own status.
 */
function endQuietlyOnClosedPipe() {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error) => {
      // after EPIPE the stream is destroyed, and a later write fails with ERR_STREAM_DESTROYED
      if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    });
  }
}
