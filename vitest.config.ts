import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));
// Reference data (data/) for the Worker's tests, read here in Node: workerd has no file system.
const referenceData = (path: string) => readFileSync(`${root}data/${path}`, "utf8");
/** The TRACE evaluation lines with these ids, as JSONL. */
const traceSample = (ids: string[]) =>
  referenceData("trace/trace_eval.jsonl")
    .split("\n")
    .filter((line) => line.trim() && ids.includes(String((JSON.parse(line) as { id: unknown }).id)))
    .join("\n");

const UNBINDING_BUDGET = JSON.stringify({
  calls_per_minute: 1_000_000,
  calls_per_day: 1_000_000,
  tokens_per_minute: 1_000_000_000,
  tokens_per_day: 1_000_000_000,
});

// Five projects in one `vitest run`:
// - worker: the Worker itself in workerd with a real local D1 (migrations applied in setup);
// - node: pure modules (the judge) and the CLI, in plain Node, reading data/;
// - e2e: the trainer (@iopo/gpu-trainer) against the Worker started locally (scripts/lib/server.mjs);
// - graph: the graph / autodiff / ONNX / engine / Trainer library (packages/graph), a plain Node project;
// - gpu-trainer: the trainer workspace, a plain Node project.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: `${root}wrangler.toml` },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations(`${root}migrations`),
                ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
                IFEVAL_INPUT: referenceData("ifeval/input_data_gpt4_20231107_145030.jsonl"),
                IFEVAL_RESPONSES: referenceData("ifeval/input_response_data_gpt4_20231107_145030.jsonl"),
                IFBENCH_INPUT: referenceData("ifbench/IFBench_test.orig.jsonl"),
                IFBENCH_RESPONSES: referenceData("ifbench/reference/sample_output.jsonl"),
                IFBENCH_REFERENCE_STRICT: referenceData("ifbench/reference/eval_results_strict.jsonl"),
                OPENAPI_CONTRACT: readFileSync(`${root}test/worker/fixtures/openapi.json`, "utf8"),
                // The LLM judge talks to the fake provider (test/fake-llm, started by globalSetup):
                // tests never reach a real model. Small timeouts and backoffs keep retries fast.
                FAKE_LLM_URL: inject("fakeLlmUrl"),
                LLM_PROVIDER: "openai",
                LLM_BASE_URL: `${inject("fakeLlmUrl")}/v1`,
                LLM_MODEL: "fake-judge-1",
                LLM_API_KEY: "sk-fake-test-key",
                LLM_JSON_SCHEMA: "true",
                LLM_TIMEOUT_MS: "400",
                LLM_MAX_RETRIES: "2",
                LLM_CONCURRENCY: "2",
                LLM_BACKOFF_MS: "10",
                LLM_BACKOFF_MAX_MS: "40",
                LLM_RETRY_AFTER_MAX_MS: "3000",
                // the suite's in-process calls share one anonymous "address": budgets that never
                // bind here; the budget tests set small ones per call (test/worker/llm-spend.test.ts)
                LLM_BUDGET_ADDRESS: UNBINDING_BUDGET,
                LLM_BUDGET_ANONYMOUS: UNBINDING_BUDGET,
                // a few TRACE evaluation lines (IF-S ids 0-2, IF-M ids 200-201) for the scoring tests
                TRACE_EVAL_SAMPLE: traceSample(["0", "1", "2", "200", "201"]),
              },
              // Cloudflare's rate-limiting binding with a limit a test reaches (wrangler.toml's
              // KEY_LIMITER allows 1,000 a minute): the per-key throttling test swaps it in
              ratelimits: { TEST_KEY_LIMITER: { namespace_id: "9103", simple: { limit: 3, period: 60 } } },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["test/worker/setup.ts"],
          globalSetup: ["test/fake-llm/global-setup.ts"],
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: "graph",
          root: `${root}packages/graph`,
          environment: "node",
          include: ["test/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: "gpu-trainer",
          root: `${root}gpu-trainer`,
          environment: "node",
          include: ["test/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
