import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { ADMIN, call, postJson } from "./helpers.ts";

// Migration 0008 indexes and measures the records stored before it: records written while its
// trigger is absent stand for them, and its own statements must then find and measure them.
it("backfills the search index and text lengths of records stored before the migration", async () => {
  const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("record_search"))!;
  // each query as wrangler runs it, less its comment lines
  const statements = migration.queries.map((q) =>
    q
      .split("\n")
      .filter((line) => !line.trim().startsWith("--"))
      .join("\n")
      .trim(),
  );
  const statement = (start: string) => statements.find((q) => q.startsWith(start))!;
  await env.DB.exec("DROP TRIGGER records_index_text");
  expect((await postJson("/v1/datasets", { name: "old-data" }, ADMIN)).status).toBe(201);
  const record = { kind: "sft", instruction: { description: "旧的任务", constraints: [] }, response: "一个很旧的回答" };
  expect((await postJson("/v1/datasets/old-data/records", [record], ADMIN)).status).toBe(200);
  const search = async () =>
    ((await (await call(`/v1/datasets/old-data/search?q=${encodeURIComponent("很旧的")}`)).json()) as { num_rows_total: number })
      .num_rows_total;
  expect(await search()).toBe(0);

  for (const q of [statement("INSERT INTO `records_fts`"), statement("UPDATE `records`")]) await env.DB.prepare(q).run();
  await env.DB.prepare(statement("CREATE TRIGGER")).run();

  expect(await search()).toBe(1);
  const lengths = await env.DB.prepare("SELECT instruction_chars, response_chars FROM records").first();
  expect(lengths).toEqual({ instruction_chars: "旧的任务\n".length, response_chars: "一个很旧的回答".length });
});
