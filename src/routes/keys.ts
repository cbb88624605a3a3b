import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { keys } from "../db/schema.ts";
import { SCOPES, generateApiKey, keyDisplayPrefix, requireScope, sha256Hex } from "../lib/auth.ts";
import { createRouter, jsonContent, problemResponses } from "../lib/openapi.ts";
import { ProblemError } from "../lib/problem.ts";

const KeyInfoSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: "The key's first characters, to tell keys apart" }),
    scopes: z.array(z.enum(SCOPES)),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi("KeyInfo");

const CreatedKeySchema = KeyInfoSchema.extend({
  key: z.string().openapi({ description: "The secret. Shown only in this response; only its SHA-256 is stored." }),
}).openapi("CreatedKey");

const CreateKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "trainer on gpu box 1" }),
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .max(3)
      .openapi({ example: ["read", "write"], description: "admin implies write implies read" }),
  })
  .strict()
  .openapi("CreateKey");

const present = (row: typeof keys.$inferSelect) => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: JSON.parse(row.scopes) as (typeof SCOPES)[number][],
  created_at: row.createdAt,
  revoked_at: row.revokedAt,
});

const security = [{ bearer: [] }];

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys",
  tags: ["Keys"],
  summary: "Create an API key (admin)",
  security,
  middleware: [requireScope("admin")] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateKeySchema } } } },
  responses: {
    201: jsonContent(CreatedKeySchema, "The new key, with its secret (shown once)"),
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  tags: ["Keys"],
  summary: "List API keys (admin)",
  description: "Secrets are never returned; revoked keys are listed with `revoked_at`.",
  security,
  middleware: [requireScope("admin")] as const,
  responses: {
    200: jsonContent(z.object({ keys: z.array(KeyInfoSchema) }), "All keys"),
    ...problemResponses(401, 403),
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  tags: ["Keys"],
  summary: "Revoke an API key (admin)",
  description: "The key stops working at once. Revoking twice is a 404.",
  security,
  middleware: [requireScope("admin")] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    204: { description: "Revoked" },
    ...problemResponses(401, 403, 404),
  },
});

export const keyRoutes = createRouter()
  .openapi(createKeyRoute, async (c) => {
    const body = c.req.valid("json");
    const key = generateApiKey();
    const row = await drizzle(c.env.DB)
      .insert(keys)
      .values({
        id: crypto.randomUUID(),
        name: body.name,
        prefix: keyDisplayPrefix(key),
        hash: await sha256Hex(key),
        scopes: JSON.stringify([...new Set(body.scopes)]),
      })
      .returning()
      .get();
    return c.json({ ...present(row), key }, 201);
  })
  .openapi(listKeysRoute, async (c) => {
    const rows = await drizzle(c.env.DB).select().from(keys).orderBy(desc(keys.createdAt)).all();
    return c.json({ keys: rows.map(present) }, 200);
  })
  .openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const revoked = await drizzle(c.env.DB)
      .update(keys)
      .set({ revokedAt: new Date().toISOString() })
      .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
      .returning({ id: keys.id })
      .get();
    if (!revoked) {
      throw new ProblemError(404, "not-found", `No active API key with id "${id}".`, [
        { field: "path.id", message: "unknown or already revoked" },
      ]);
    }
    return c.body(null, 204);
  });
