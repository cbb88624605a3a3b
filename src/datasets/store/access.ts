import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { datasets } from "../../db/schema.ts";
import type { Principal } from "../../lib/principal.ts";
import { ProblemError } from "../../lib/problem.ts";

/** Who may see and write which dataset, and the namespaces that keep private names private. */

export type DatasetRow = typeof datasets.$inferSelect;

export function canRead(principal: Principal, dataset: DatasetRow): boolean {
  return (
    dataset.visibility === "public" || principal.scopes.has("admin") || (principal.keyId !== null && principal.keyId === dataset.ownerKeyId)
  );
}

export function canWrite(principal: Principal, dataset: DatasetRow): boolean {
  return (
    principal.scopes.has("admin") || (principal.scopes.has("write") && principal.keyId !== null && principal.keyId === dataset.ownerKeyId)
  );
}

/** The namespace of the caller's private datasets: its key id, "admin" for the admin token. */
const ownNamespace = (principal: Principal): string | null => principal.keyId ?? (principal.kind === "admin-token" ? "admin" : null);

/**
 * The dataset `name` means to this caller, or null: its own private dataset of that name first,
 * then the public one; an admin, who reads everything, then the oldest private one. Others'
 * private datasets are never considered, so they neither shadow nor reveal anything.
 */
export async function visibleDataset(db: D1Database, name: string, principal: Principal): Promise<DatasetRow | null> {
  const rows = await drizzle(db)
    .select()
    .from(datasets)
    .where(eq(datasets.name, name))
    .orderBy(
      desc(sql`${datasets.namespace} = ${ownNamespace(principal) ?? ""}`),
      desc(sql`${datasets.namespace} = ''`),
      asc(datasets.createdAt),
    )
    .all();
  return rows.find((row) => canRead(principal, row)) ?? null;
}

/** The dataset if this caller may see it; a private dataset it may not read does not exist (404). */
export async function findDataset(db: D1Database, name: string, principal: Principal, access: "read" | "write"): Promise<DatasetRow> {
  const row = await visibleDataset(db, name, principal);
  if (!row) {
    throw new ProblemError(404, "not-found", `No dataset named "${name}".`, [{ field: "path.name", message: "unknown dataset" }]);
  }
  if (access === "write" && !canWrite(principal, row)) {
    throw new ProblemError(403, "forbidden", `This key may not write to dataset "${name}" (only its owner or an admin may).`);
  }
  return row;
}

export async function listDatasets(db: D1Database, principal: Principal): Promise<DatasetRow[]> {
  const rows = await drizzle(db).select().from(datasets).orderBy(datasets.name).all();
  return rows.filter((d) => canRead(principal, d));
}

export async function createDataset(
  db: D1Database,
  input: { name: string; description: string; visibility: "public" | "private" },
  principal: Principal,
): Promise<DatasetRow> {
  // Only the public names and the caller's own conflict: a name someone else holds privately is
  // free to it (the private one stays in its owner's namespace), so a 409 reveals nothing hidden.
  const taken = () =>
    new ProblemError(409, "conflict", `A dataset named "${input.name}" already exists.`, [
      { field: "body.name", message: "already taken" },
    ]);
  const own = ownNamespace(principal);
  if (own === null) throw new ProblemError(401, "unauthorized", "Creating a dataset needs a key.");
  const orm = drizzle(db);
  const clash = await orm
    .select({ id: datasets.id })
    .from(datasets)
    .where(and(eq(datasets.name, input.name), inArray(datasets.namespace, ["", own])))
    .get();
  if (clash) throw taken();
  try {
    return await orm
      .insert(datasets)
      .values({
        id: crypto.randomUUID(),
        name: input.name,
        namespace: input.visibility === "private" ? own : "",
        description: input.description,
        visibility: input.visibility,
        ownerKeyId: principal.keyId,
      })
      .returning()
      .get();
  } catch (error) {
    if (violatesUnique(error)) throw taken(); // created concurrently
    throw error;
  }
}

/** drizzle wraps D1's error (the one naming the UNIQUE constraint) as the `cause` of its own. */
function violatesUnique(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if (/UNIQUE/i.test(String(e))) return true;
  return false;
}
