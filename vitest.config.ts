import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL(".", import.meta.url));
// Reference data for the Worker's tests, read here in Node (workerd cannot read ../shared).
const shared = (path: string) => readFileSync(`${root}../shared/data/${path}`, "utf8");

// Three projects in one `vitest run`:
// - worker: the Worker itself in workerd with a real local D1 (migrations applied in setup);
// - node: pure modules (the judge) and the CLI, in plain Node, reading ../shared/data;
// - gpu-trainer: the trainer workspace, a plain Node project.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: `${root}wrangler.toml` },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations(`${root}migrations`),
                ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
                IFEVAL_INPUT: shared("ifeval/input_data_gpt4_20231107_145030.jsonl"),
                IFEVAL_RESPONSES: shared("ifeval/input_response_data_gpt4_20231107_145030.jsonl"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["test/worker/setup.ts"],
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
