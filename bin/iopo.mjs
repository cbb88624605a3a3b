#!/usr/bin/env node
// `npx iopo ...`: runs the TypeScript CLI through tsx, so no build step is needed after `npm ci`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// npx puts the project's Node 22 (the `node` devDependency) first on PATH; when this file is started
// by an older Node anyway (a direct path, a global npx), hand over to that Node 22.
if (Number(process.versions.node.split(".")[0]) < 22) {
  const node22 = createRequire(import.meta.url).resolve("node/bin/node");
  const run = spawnSync(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}

const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
