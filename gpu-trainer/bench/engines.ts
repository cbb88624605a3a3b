/**
 * The benches' engines, named once: every device of the one device list (DEVICE_INFO, what
 * `--device` accepts) except `auto` (a choice, not an engine), plus the bench-only variants
 * declared here (a fixed wasm thread count; `node`, the benches' older name for the `cpu`
 * device). gpu.ts, run.ts and iopo.ts take their --engine(s) values from this list.
 */
import { DEVICE_INFO, DEVICES, type Device, type Engine, createEngine, createWasmEngine } from "@iopo/graph";

type BenchDevice = Exclude<Device, "auto">;

/** Bench-only names: what each is, and how it is made. */
const VARIANTS = {
  // onnxruntime-web's wasm EP with a fixed thread count
  wasm1: { of: "wasm", make: () => createWasmEngine({ numThreads: 1 }) },
  wasm2: { of: "wasm", make: () => createWasmEngine({ numThreads: 2 }) },
  // the benches' older name for the cpu device (onnxruntime-node's CPU EP)
  node: { of: "cpu", make: () => createEngine("cpu") },
} as const satisfies Record<string, { of: BenchDevice; make: () => Promise<Engine> }>;

export type BenchEngineId = BenchDevice | keyof typeof VARIANTS;

const BENCH_DEVICES = DEVICES.filter((d): d is BenchDevice => d !== "auto");

/** Every bench engine name: the devices, then the variants. */
export const BENCH_ENGINES: readonly BenchEngineId[] = [...BENCH_DEVICES, ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])];

const deviceOf = (id: BenchEngineId): BenchDevice => (id in VARIANTS ? VARIANTS[id as keyof typeof VARIANTS].of : (id as BenchDevice));

/** The bench engines that can train (their device trains): the training benches' choices. */
export const TRAINING_BENCH_ENGINES: readonly BenchEngineId[] = BENCH_ENGINES.filter((id) => DEVICE_INFO[deviceOf(id)].trains);

export function isBenchEngine(s: string): s is BenchEngineId {
  return (BENCH_ENGINES as readonly string[]).includes(s);
}

/** Create a bench engine (EngineUnavailable when it cannot load here). */
export function makeBenchEngine(id: BenchEngineId): Promise<Engine> {
  return id in VARIANTS ? VARIANTS[id as keyof typeof VARIANTS].make() : createEngine(id as BenchDevice);
}

/**
 * Parse an --engine(s) list against `allowed` (default `def`): unknown or disallowed names
 * throw, naming the choices.
 */
export function parseBenchEngines(
  v: string | undefined,
  allowed: readonly BenchEngineId[],
  def: readonly BenchEngineId[],
): BenchEngineId[] {
  if (!v) return [...def];
  const ids = v.split(",").filter(Boolean);
  for (const id of ids)
    if (!isBenchEngine(id) || !allowed.includes(id)) throw new Error(`unknown engine "${id}" (choose ${allowed.join(", ")})`);
  return ids as BenchEngineId[];
}
