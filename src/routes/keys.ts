import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { keyBudgets, keys, utcNow } from "../db/schema.ts";
import { clientAddress, generateApiKey, keyDisplayPrefix, requireScope, sha256Hex } from "../lib/auth.ts";
import { SCOPES } from "../lib/principal.ts";
import { BUDGET_FIELDS, callerSubjects, spendStatus } from "../lib/spend.ts";
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

const BudgetSchema = z
  .object(Object.fromEntries(BUDGET_FIELDS.map((f) => [f, z.number().int()])) as Record<(typeof BUDGET_FIELDS)[number], z.ZodNumber>)
  .openapi("Budget", { description: "Model calls and tokens per UTC minute and per UTC day" });

const SpendSchema = z
  .object({
    subject: z.string().openapi({ description: '"key:<id>", "address:<ip>", or "anonymous" (all anonymous callers together)' }),
    budget: BudgetSchema,
    used: z.object({
      minute: z.object({ calls: z.number().int(), tokens: z.number().int() }),
      day: z.object({ calls: z.number().int(), tokens: z.number().int() }),
    }),
    remaining: BudgetSchema,
    resets_in_s: z.object({ minute: z.number().int(), day: z.number().int() }),
  })
  .openapi("Spend");

const meRoute = createRoute({
  method: "get",
  path: "/v1/keys/me",
  tags: ["Keys"],
  summary: "Who is calling, and its model-call budgets with what is left",
  description:
    "A key sees its own budget; an anonymous caller its address's and the ceiling shared by all anonymous callers (a call needs room in every one); the admin token has none. " +
    "Every model call (free-text judging, compile, TRACE and CFBench scoring, LLM jobs) counts, retries included; a call beyond a budget is not made and the request gets a 429 with the same `budget` object.",
  responses: {
    200: jsonContent(
      z.object({
        kind: z.enum(["anonymous", "admin-token", "key"]),
        key_id: z.string().nullable(),
        scopes: z.array(z.enum(SCOPES)),
        spend: z.array(SpendSchema),
      }),
      "The caller and its budgets",
    ),
    ...problemResponses(401),
  },
});

const BudgetLimitsSchema = z
  .object(
    Object.fromEntries(BUDGET_FIELDS.map((f) => [f, z.number().int().min(0).max(1_000_000_000_000).nullable().optional()])) as Record<
      (typeof BUDGET_FIELDS)[number],
      z.ZodOptional<z.ZodNullable<z.ZodNumber>>
    >,
  )
  .strict()
  .openapi("BudgetLimits", {
    description: "Per-key limits; a field left out keeps its value, null returns it to the default (LLM_BUDGET_KEY)",
  });

const setBudgetRoute = createRoute({
  method: "put",
  path: "/v1/keys/{id}/budget",
  tags: ["Keys"],
  summary: "Set a key's model-call budget (admin)",
  security,
  middleware: [requireScope("admin")] as const,
  request: {
    params: z.object({ id: z.string().min(1).max(64) }),
    body: { required: true, content: { "application/json": { schema: BudgetLimitsSchema } } },
  },
  responses: {
    200: jsonContent(SpendSchema, "The key's budget now, and what it has spent"),
    ...problemResponses(400, 401, 403, 404, 415, 422),
  },
});

const COLUMN = {
  calls_per_minute: "callsPerMinute",
  calls_per_day: "callsPerDay",
  tokens_per_minute: "tokensPerMinute",
  tokens_per_day: "tokensPerDay",
} as const;

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
  .openapi(meRoute, async (c) => {
    const principal = c.get("principal");
    const spend = await Promise.all(callerSubjects(principal, clientAddress(c)).map((s) => spendStatus(c.env, s)));
    return c.json({ kind: principal.kind, key_id: principal.keyId, scopes: [...principal.scopes], spend }, 200);
  })
  .openapi(setBudgetRoute, async (c) => {
    const { id } = c.req.valid("param");
    const limits = c.req.valid("json");
    const orm = drizzle(c.env.DB);
    const key = await orm
      .select({ id: keys.id })
      .from(keys)
      .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
      .get();
    if (!key)
      throw new ProblemError(404, "not-found", `No active API key with id "${id}".`, [{ field: "path.id", message: "unknown or revoked" }]);
    const set = Object.fromEntries(
      BUDGET_FIELDS.filter((f) => limits[f] !== undefined).map((f) => [COLUMN[f], limits[f] ?? null]),
    ) as Partial<typeof keyBudgets.$inferInsert>;
    await orm
      .insert(keyBudgets)
      .values({ keyId: id, ...set })
      .onConflictDoUpdate({ target: keyBudgets.keyId, set: { ...set, updatedAt: utcNow } });
    return c.json(await spendStatus(c.env, { kind: "key", keyId: id }), 200);
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
