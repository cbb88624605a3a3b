/**
 * `npm run demo`: the small-scale reproduction of IOPO's main result (see demo/pipeline.ts and the
 * README's "Demo" section).
 *
 *   npm run demo                                   full tiny run (3 seeds; writes demo/results.md, demo/plot.svg)
 *   npm run demo -- --smoke                        one seed, a few steps (what npm test runs)
 *   npm run demo -- --scale --model <hf-dir> --device webgpu     the same pipeline on a real checkpoint
 *   options: --config <file.json> --seeds 0,1,2 --device auto|cpu|wasm|webgpu --judge <url> --key <k>
 *            --out <dir> --results <file.md> --plot <file.svg> --notes <file.md> --resume --prefix <name>
 *            --report-only (rewrite the report from <out>/results.json)
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isGenerationDevice } from "@iopo/gpu-trainer";
import { type DemoConfig, type DemoResult, runDemo } from "./pipeline.ts";
import { plotSvg, resultsMarkdown } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));

export function loadConfig(name: string): DemoConfig {
  const path = /[/.]/.test(name) ? resolve(name) : join(here, "configs", `${name}.json`);
  return JSON.parse(readFileSync(path, "utf8")) as DemoConfig;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      smoke: { type: "boolean" },
      scale: { type: "boolean" },
      model: { type: "string" },
      device: { type: "string" },
      seeds: { type: "string" },
      judge: { type: "string" },
      key: { type: "string" },
      out: { type: "string" },
      results: { type: "string" },
      plot: { type: "string" },
      notes: { type: "string" },
      resume: { type: "boolean" },
      "report-only": { type: "boolean" },
      prefix: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      readFileSync(fileURLToPath(import.meta.url), "utf8")
        .split("*/")[0]
        .replace(/^\/\*\*?\n?/, "")
        .replace(/^ \* ?/gm, "") + "\n",
    );
    return 0;
  }
  const configName = values.config ?? (values.smoke ? "smoke" : values.scale ? "scale" : "full");
  const config = loadConfig(configName);
  if (values.model) config.model = values.model;
  if (values.device) {
    if (!isGenerationDevice(values.device) || values.device === "browser") throw new Error(`--device must be auto, cpu, wasm or webgpu`);
    config.device = values.device;
  }
  if (values.seeds) config.seeds = values.seeds.split(",").map((s) => Number(s.trim()));
  if (config.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error("--seeds: non-negative integers, comma-separated");
  if (config.model.startsWith("<"))
    throw new Error(`the ${config.name} config needs --model <a Hugging Face folder> (e.g. a downloaded Qwen2-0.5B-Instruct)`);
  // only the default full run writes the committed report; others write next to their outputs
  const out = resolve(values.out ?? join(here, "out", config.name));
  const isDefault = config.name === "full" && !values.model && !values.seeds;
  const resultsFile = resolve(values.results ?? (isDefault ? join(here, "results.md") : join(out, "results.md")));
  const plotFile = resolve(values.plot ?? (isDefault ? join(here, "plot.svg") : join(out, "plot.svg")));
  const t0 = Date.now();
  const result = values["report-only"]
    ? (JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as DemoResult)
    : await runDemo({
        config,
        judge: values.judge,
        key: values.key ?? process.env.IOPO_API_KEY,
        out,
        resume: values.resume,
        prefix: values.prefix,
      });
  const notes = values.notes ? readFileSync(resolve(values.notes), "utf8") : undefined;
  const command = result.command ?? `npm run demo${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  if (!result.command) {
    result.command = command;
    await writeFile(join(out, "results.json"), JSON.stringify(result, null, 2) + "\n");
  }
  await mkdir(dirname(resultsFile), { recursive: true });
  await writeFile(resultsFile, resultsMarkdown(result, { command, notes }));
  await writeFile(plotFile, plotSvg(result));
  process.stderr.write(`\ndemo done in ${((Date.now() - t0) / 60000).toFixed(1)} min: ${resultsFile}, ${plotFile}\n`);
  process.stdout.write(readFileSync(resultsFile, "utf8").split("## Setup")[0]);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`demo: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
