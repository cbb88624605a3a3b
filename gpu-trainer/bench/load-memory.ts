/**
 * Host memory of loading a 16-bit checkpoint: the process's peak resident set and its ArrayBuffer
 * bytes after `loadHfWeights`, with the weights kept 16-bit (a LoRA base) and widened to fp32 (the
 * layout before), each in a fresh process.
 *
 *   npx tsx bench/load-memory.ts [--mb 400] [--dtype F16|BF16]
 *
 * The checkpoint is random, written once to a temporary folder: a Llama shape of D=1024 whose layer
 * count makes it about `--mb` megabytes at 2 bytes a weight.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseHfConfig } from "../src/model/config.ts";
import { paramShapes } from "../src/model/decoder.ts";
import { randomWeights } from "../src/model/index.ts";
import { loadHfWeights, readConfig, saveHfModel } from "../src/model/weights.ts";

const MB = 1e6;

/**
 * The process's peak resident set (Linux's VmHWM): getrusage's maxrss would do, but Linux carries
 * it over from the parent through fork and exec, and the parent wrote the checkpoint.
 */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (!m) throw new Error("no VmHWM in /proc/self/status (Linux only)");
  return Number(m[1]) * 1024;
}

async function measure(dir: string, widen: boolean) {
  const c = await readConfig(dir);
  const before = process.memoryUsage();
  const w = await loadHfWeights(dir, c, { widen });
  const after = process.memoryUsage();
  const held = [...w.values()].reduce((s, t) => s + t.byteLength, 0);
  return {
    mode: widen ? "widened to fp32" : "kept 16-bit",
    weightBytes: held,
    peakRssGrowth: peakRss() - before.rss,
    arrayBuffersGrowth: after.arrayBuffers - before.arrayBuffers,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      mb: { type: "string", default: "400" },
      dtype: { type: "string", default: "F16" },
      measure: { type: "string" },
      widen: { type: "boolean" },
    },
  });
  if (values.measure) {
    process.stdout.write(`${JSON.stringify(await measure(values.measure, !!values.widen))}\n`);
    return;
  }
  const D = 1024;
  const raw = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 32000,
    hidden_size: D,
    intermediate_size: 2816,
    num_hidden_layers: 1,
    num_attention_heads: 16,
    num_key_value_heads: 16,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  };
  const perLayer = 4 * D * D + 3 * D * 2816;
  const layers = Math.max(1, Math.round((Number(values.mb) * MB) / 2 / perLayer - (2 * 32000 * D) / perLayer));
  const c = parseHfConfig({ ...raw, num_hidden_layers: layers });
  const params = [...paramShapes(c).values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const dir = mkdtempSync(join(tmpdir(), "iopo-load-memory-"));
  try {
    const dtype = values.dtype === "BF16" ? "BF16" : "F16";
    await saveHfModel(dir, c, randomWeights(c, 0), { dtype });
    const file = statSync(join(dir, "model.safetensors")).size;
    console.log(`${dtype} checkpoint: ${layers} layers, ${(params / 1e6).toFixed(1)}M weights, ${(file / MB).toFixed(0)} MB`);
    const self = fileURLToPath(import.meta.url);
    for (const widen of [true, false]) {
      const args = ["--import", "tsx", self, "--measure", dir, ...(widen ? ["--widen"] : [])];
      const r = JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8" }));
      const mb = (b: number) => `${(b / MB).toFixed(0).padStart(5)} MB`;
      console.log(
        `${r.mode.padEnd(16)} weights held ${mb(r.weightBytes)}, peak RSS growth ${mb(r.peakRssGrowth)} (${(r.peakRssGrowth / file).toFixed(2)}x the file), ArrayBuffers ${mb(r.arrayBuffersGrowth)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
