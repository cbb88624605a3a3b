/**
 * @iopo/common/api: the API's wire schemas (zod, with their OpenAPI metadata). The Worker's routes
 * validate requests and document responses with them; the client's types (../api-types.ts) are
 * inferred from them. Importing this entry loads zod: clients import its types only.
 */
export * from "./datasets.ts";
export * from "./jobs.ts";
export * from "./judge.ts";
export * from "./problem.ts";
export * from "./records.ts";
export * from "./taxonomy.ts";
