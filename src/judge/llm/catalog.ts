import { getChecker, listCheckers } from "../index.ts";

/** A registered checker as the compiler (and GET /v1/checkers) describes it. */
export interface CatalogEntry {
  id: string;
  family: string;
  category: string;
  /** The checker's instruction text with `{kwarg}` placeholders (null if it cannot be rendered). */
  instruction_template: string | null;
  kwargs_schema: Record<string, unknown>;
}

/** The checker's instruction text with `{kwarg}` placeholders, for building prompts. */
export function instructionTemplate(id: string, schema: Record<string, unknown>): string | null {
  let checker: { describe(kwargs: unknown): string };
  try {
    checker = getChecker(id);
  } catch {
    return null;
  }
  const properties = (schema.properties ?? {}) as Record<string, { type?: string }>;
  const placeholders = Object.fromEntries(
    Object.entries(properties).map(([name, p]) => [name, p.type === "array" ? [`{${name}}`] : `{${name}}`]),
  );
  try {
    // a kwarg the text looks up in a table (a language code) renders as "undefined": keep its name
    return checker.describe(placeholders).replaceAll("undefined", `{${Object.keys(properties)[0] ?? "value"}}`);
  } catch {
    return null;
  }
}

let catalog: CatalogEntry[] | undefined;

/** Every registered checker (the registry is fixed at build time, so this is computed once). */
export function checkerCatalog(): CatalogEntry[] {
  catalog ??= listCheckers().map((info) => ({
    id: info.id,
    family: info.family,
    category: info.category,
    instruction_template: instructionTemplate(info.id, info.kwargs_schema),
    kwargs_schema: info.kwargs_schema,
  }));
  return catalog;
}

/** A compact rendering of a kwargs JSON Schema: `{relation: "less than"|"at least", num_words: integer}`. */
export function compactKwargs(schema: Record<string, unknown>): string {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.required ?? []) as string[]);
  const names = Object.keys(properties);
  if (names.length === 0) return "{}";
  const describe = (p: Record<string, unknown>): string => {
    if (Array.isArray(p.enum)) return p.enum.map((v) => JSON.stringify(v)).join("|");
    if ("const" in p) return JSON.stringify(p.const);
    if (Array.isArray(p.anyOf)) return (p.anyOf as Record<string, unknown>[]).map(describe).join("|");
    if (p.type === "array") return `${describe((p.items ?? {}) as Record<string, unknown>)}[]`;
    let out = typeof p.type === "string" ? p.type : "any";
    // zod's int() adds the safe-integer range: not worth the model's attention
    const bound = (v: unknown) => typeof v === "number" && Math.abs(v) < Number.MAX_SAFE_INTEGER;
    const bounds = [bound(p.minimum) ? `>=${p.minimum}` : "", bound(p.maximum) ? `<=${p.maximum}` : ""].filter(Boolean);
    if (bounds.length) out += ` ${bounds.join(" ")}`;
    return out;
  };
  return `{${names.map((n) => `${n}${required.has(n) ? "" : "?"}: ${describe(properties[n]!)}`).join(", ")}}`;
}
