/** TRACE's constraint taxonomy as D1 holds it (seeded by a migration): the types, each with its dimensions, in order. */
import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { constraintDimensions, constraintTypes } from "../../db/schema.ts";
import { ProblemError } from "../../lib/problem.ts";
import { slugify } from "../taxonomy.ts";

export async function loadTaxonomy(db: D1Database) {
  const orm = drizzle(db);
  const [types, dimensions] = await orm.batch([
    orm.select().from(constraintTypes).orderBy(asc(constraintTypes.position)),
    orm.select().from(constraintDimensions).orderBy(asc(constraintDimensions.position)),
  ]);
  const present = (d: (typeof dimensions)[number]) => ({
    name: d.name,
    slug: slugify(d.name),
    description: d.description,
    label_zh: d.labelZh,
    eval_count: d.evalCount,
  });
  return {
    types: types.map((t) => ({
      name: t.name,
      slug: slugify(t.name),
      description: t.description,
      dimensions: dimensions.filter((d) => d.type === t.name).map(present),
    })),
  };
}

/** One dimension with its type's name, by its English name (any case), its slug or its Chinese label; 404 for none. */
export async function findDimension(db: D1Database, given: string) {
  const wanted = given.trim();
  const taxonomy = await loadTaxonomy(db);
  for (const type of taxonomy.types) {
    for (const d of type.dimensions) {
      if (d.name.toLowerCase() === wanted.toLowerCase() || d.slug === wanted.toLowerCase() || d.label_zh === wanted) {
        return { ...d, type: type.name };
      }
    }
  }
  throw new ProblemError(404, "not-found", `No constraint dimension named "${wanted}".`, [
    { field: "path.dimension", message: "unknown dimension" },
  ]);
}
