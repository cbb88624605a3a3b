import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** API keys. Only the SHA-256 of a key is stored; the key itself is shown once at creation. */
export const keys = sqliteTable(
  "keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** First characters of the key, so a user can tell keys apart without the secret. */
    prefix: text("prefix").notNull(),
    hash: text("hash").notNull().unique(),
    /** JSON array of scopes: "read" | "write" | "admin". */
    scopes: text("scopes").notNull(),
    createdAt: text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("keys_revoked_idx").on(t.revokedAt)],
);

/** TRACE's five constraint types. */
export const constraintTypes = sqliteTable("constraint_types", {
  name: text("name").primaryKey(),
  description: text("description").notNull(),
  position: integer("position").notNull(),
});

/** TRACE's 26 constraint dimensions, each under one type. */
export const constraintDimensions = sqliteTable(
  "constraint_dimensions",
  {
    name: text("name").primaryKey(),
    type: text("type")
      .notNull()
      .references(() => constraintTypes.name),
    description: text("description").notNull(),
    /** The Chinese `levels2` label used by the TRACE data. */
    labelZh: text("label_zh").notNull().unique(),
    /** How often the dimension occurs in the TRACE evaluation set. */
    evalCount: integer("eval_count").notNull(),
    position: integer("position").notNull(),
  },
  (t) => [index("constraint_dimensions_type_idx").on(t.type)],
);

export type KeyRow = typeof keys.$inferSelect;
