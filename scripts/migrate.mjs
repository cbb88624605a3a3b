// Applies migrations/ to the local D1 in .wrangler/state (idempotent: applied ones are skipped).
import { runWrangler } from "./wrangler-env.mjs";

export async function migrateLocal({ quiet = false } = {}) {
  const args = ["d1", "migrations", "apply", "DB", "--local"];
  if (process.env.IOPO_PERSIST_TO) args.push("--persist-to", process.env.IOPO_PERSIST_TO);
  const output = await runWrangler(args, { quiet: true });
  const applied = Number(/About to apply (\d+) migration/.exec(output)?.[1] ?? 0);
  if (!quiet) console.log(applied > 0 ? `iopo: applied ${applied} migration(s) to the local D1` : "iopo: local D1 is up to date");
  return applied;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await migrateLocal();
}
