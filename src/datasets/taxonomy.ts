import { drizzle } from "drizzle-orm/d1";
import { constraintDimensions } from "../db/schema.ts";
/** Lookups over the taxonomy stored in D1, for normalising and grouping dimensions. */
export interface TaxonomyIndex {
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
 * any case), or undefined. The one check of a dimension: ingest, row filters and the judge use it.
 */
export const resolveDimension = (index: Pick<TaxonomyIndex, "dimensionNames">, given: string): string | undefined =>
  index.dimensionNames.get(given.trim().toLowerCase());

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
  const results = await drizzle(db)
    .select({ name: constraintDimensions.name, type: constraintDimensions.type, labelZh: constraintDimensions.labelZh })
    .from(constraintDimensions)
    .all();
  const dimensionNames = new Map<string, string>();
  const typeOfDimension = new Map<string, string>();
  for (const d of results) {
    dimensionNames.set(d.name.toLowerCase(), d.name);
    dimensionNames.set(slugify(d.name), d.name);
    dimensionNames.set(d.labelZh.toLowerCase(), d.name);
    typeOfDimension.set(d.name, d.type);
  }
  return { dimensionNames, typeOfDimension };
}
