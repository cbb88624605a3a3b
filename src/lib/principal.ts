/**
 * Who is calling, in a module of its own: the Worker's context (../env.ts) carries a principal and
 * the authentication middleware (./auth.ts) reads that context, so neither can be the other's home.
 */

export const SCOPES = ["judge", "read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling. Scopes are hierarchical: admin implies write implies read implies judge. */
export interface Principal {
  kind: "anonymous" | "admin-token" | "key";
  keyId: string | null;
  scopes: ReadonlySet<Scope>;
}
