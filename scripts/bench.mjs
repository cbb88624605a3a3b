// `npm run bench`: every benchmark in turn. They print figures and ratios; none is a pass/fail test.
// Choose some with `npm run bench -- judge datasets`; options after the names go to each chosen
// benchmark, e.g. `npm run bench -- judge --reference-ms 900` (the judge's ratio to the Python
// reference; see scripts/bench-judge.ts for --reference-timing FILE and --reference DIR).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { root } from "./wrangler-env.mjs";

const tsx = join(root, "node_modules/tsx/dist/cli.mjs");
const benches = {
  judge: ["scripts/bench-judge.ts"],
  "judge-cold": ["scripts/bench/judge-cold.mjs"],
  "judge-http": ["scripts/bench/judge-http.mjs"],
  "judge-abuse": ["scripts/bench/judge-abuse.mjs"],
  datasets: ["scripts/bench/datasets.mjs"],
  scale: ["scripts/bench/scale.ts"],
  trainer: ["gpu-trainer/bench/run.ts"],
};
const args = process.argv.slice(2);
const firstOption = args.findIndex((arg) => arg.startsWith("-"));
const names = firstOption < 0 ? args : args.slice(0, firstOption);
const options = firstOption < 0 ? [] : args.slice(firstOption);
const chosen = names.length ? names : Object.keys(benches);
let failed = 0;
for (const name of chosen) {
  const [file] = benches[name] ?? [];
  if (!file) {
    console.error(`unknown benchmark "${name}"; choose from ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
  if (!existsSync(join(root, file))) {
    console.log(`\n== ${name}: ${file} not present, skipped`);
    continue;
  }
  console.log(`\n== ${name} (${file})`);
  const script = file.endsWith(".ts") ? [tsx, file] : [file];
  const result = spawnSync(process.execPath, [...script, ...options], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
