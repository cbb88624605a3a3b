import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// The real migrations, applied to the real local D1 that workerd gives each test file.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
