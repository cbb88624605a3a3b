import { defineConfig } from "drizzle-kit";

// Generates SQL migrations into migrations/ (wrangler applies them; it ignores meta/).
// Always name them: `npx drizzle-kit generate --name <what_changed>`.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
