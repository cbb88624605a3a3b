import type { Principal } from "./lib/auth";

/** Bindings and variables of the Worker (wrangler.toml `[vars]`, secrets, D1). */
export interface Bindings {
  DB: D1Database;
  /** Worker secret: the first admin credential (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /** "true" (default): GET routes need no key; "false": every route needs a key with `read`. */
  PUBLIC_READS?: string;
  /** Largest accepted request body in bytes. */
  MAX_BODY_BYTES?: string;
  /** Comma-separated allowed CORS origins, or "*". */
  CORS_ORIGINS?: string;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    principal: Principal;
    requestId: string;
  };
}
