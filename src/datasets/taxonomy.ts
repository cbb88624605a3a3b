import { asc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { constraintDimensions, constraintTypes } from "../db/schema.ts";

/**
 * TRACE's constraint taxonomy as stored in D1, loaded once per use and looked up here only: the
 * taxonomy routes present it, ingest and the judge normalise dimension names with it, statistics
 * group by its types, and the pipelines draw and check dimensions from it.
 */

export type TaxonomyDimension = typeof constraintDimensions.$inferSelect;
export type TaxonomyType = typeof constraintTypes.$inferSelect & { dimensions: TaxonomyDimension[] };

export interface TaxonomyIndex {
  /** The types, in position order, each with its dimensions in position order. */
  types: TaxonomyType[];
  /** Every dimension, in position order. */
  dimensions: TaxonomyDimension[];
  /** lower-cased English name, slug or Chinese label → English name */
  dimensionNames: Map<string, string>;
  /** English dimension name → its type */
  typeOfDimension: Map<string, string>;
}

export const slugify = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/**
 * The English name of the TRACE dimension `given` names (English name, slug or Chinese label, in
 * any case), or undefined (also for no name at all). The one check of a dimension: ingest, row
 * filters, the judge, the taxonomy routes and the pipelines use it.
 */
export const resolveDimension = (
  index: { readonly dimensionNames: ReadonlyMap<string, string> },
  given: string | null | undefined,
): string | undefined => (given ? index.dimensionNames.get(given.trim().toLowerCase()) : undefined);

/**
 * The dimensions of the TRACE constraint type `given` names (English name or slug, in any case),
 * or undefined for an unknown type.
 */
export function dimensionsOfType(index: Pick<TaxonomyIndex, "typeOfDimension">, given: string): string[] | undefined {
  const wanted = slugify(given);
  const dimensions = [...index.typeOfDimension].filter(([, type]) => slugify(type) === wanted).map(([dimension]) => dimension);
  return dimensions.length > 0 ? dimensions : undefined;
}

export async function loadTaxonomyIndex(db: D1Database): Promise<TaxonomyIndex> {
  const orm = drizzle(db);
  const [types, dimensions] = await orm.batch([
    orm.select().from(constraintTypes).orderBy(asc(constraintTypes.position)),
    orm.select().from(constraintDimensions).orderBy(asc(constraintDimensions.position)),
  ]);
  const dimensionNames = new Map<string, string>();
  const typeOfDimension = new Map<string, string>();
  for (const d of dimensions) {
    dimensionNames.set(d.name.toLowerCase(), d.name);
    dimensionNames.set(slugify(d.name), d.name);
    dimensionNames.set(d.labelZh.toLowerCase(), d.name);
    typeOfDimension.set(d.name, d.type);
  }
  return {
    types: types.map((t) => ({ ...t, dimensions: dimensions.filter((d) => d.type === t.name) })),
    dimensions,
    dimensionNames,
    typeOfDimension,
  };
}
