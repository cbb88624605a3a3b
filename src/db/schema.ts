import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { RECORD_KINDS } from "@iopo/common";
import { JOB_STATUSES } from "@iopo/common/api";

/** The time now in UTC, ISO 8601 with milliseconds: every timestamp column's default and update. */
export const utcNow = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

/** API keys. Only the SHA-256 of a key is stored; the key itself is shown once at creation. */
export const keys = sqliteTable(
  "keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** First characters of the key, so a user can tell keys apart without the secret. */
    prefix: text("prefix").notNull(),
    hash: text("hash").notNull().unique(),
    /** JSON array of scopes: "read" | "write" | "admin". */
    scopes: text("scopes").notNull(),
    createdAt: text("created_at").notNull().default(utcNow),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("keys_revoked_idx").on(t.revokedAt)],
);

/** TRACE's five constraint types. */
export const constraintTypes = sqliteTable("constraint_types", {
  name: text("name").primaryKey(),
  description: text("description").notNull(),
  position: integer("position").notNull(),
});

/** TRACE's 26 constraint dimensions, each under one type. */
export const constraintDimensions = sqliteTable(
  "constraint_dimensions",
  {
    name: text("name").primaryKey(),
    type: text("type")
      .notNull()
      .references(() => constraintTypes.name),
    description: text("description").notNull(),
    /** The Chinese `levels2` label used by the TRACE data. */
    labelZh: text("label_zh").notNull().unique(),
    /** How often the dimension occurs in the TRACE evaluation set. */
    evalCount: integer("eval_count").notNull(),
    position: integer("position").notNull(),
  },
  (t) => [index("constraint_dimensions_type_idx").on(t.type)],
);

export type KeyRow = typeof keys.$inferSelect;

/**
 * A named collection of records. Private datasets are visible only to their owner and admins, and
 * their names live in their owner's namespace: a private dataset never takes a name from anyone
 * else, so its existence cannot be probed (README "Datasets").
 */
export const datasets = sqliteTable(
  "datasets",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** "" for public datasets; for a private one its owner: the key id, or "admin" for the admin token. */
    namespace: text("namespace").notNull().default(""),
    description: text("description").notNull().default(""),
    visibility: text("visibility", { enum: ["public", "private"] }).notNull(),
    /** The key that created it; null for the admin token (then only admins may write). */
    ownerKeyId: text("owner_key_id"),
    /** Records are append-only with dense positions 0..record_count-1. */
    recordCount: integer("record_count").notNull().default(0),
    createdAt: text("created_at").notNull().default(utcNow),
  },
  (t) => [uniqueIndex("datasets_namespace_name_idx").on(t.namespace, t.name)],
);

/**
 * Records, append-only. `id` is the SHA-256 of the record's canonical JSON, so re-sending a record
 * adds nothing; `position` is dense per dataset and fixes the order versions freeze.
 */
export const records = sqliteTable(
  "records",
  {
    datasetId: text("dataset_id")
      .notNull()
      .references(() => datasets.id),
    id: text("id").notNull(),
    position: integer("position").notNull(),
    kind: text("kind", { enum: RECORD_KINDS }).notNull(),
    /** The record as canonical JSON (without `kind`). */
    payload: text("payload").notNull(),
    /** Constraints of the record's (first) instruction. */
    constraintCount: integer("constraint_count").notNull(),
    /** JSON array: the TRACE dimension of each constraint of the (first) instruction, repeats kept. */
    dimensions: text("dimensions").notNull(),
    /**
     * Characters of the record's instruction text and of its response text (view `record_texts`):
     * set by a trigger on insert, with the full-text index `records_fts` (migration 0008).
     */
    instructionChars: integer("instruction_chars").notNull().default(0),
    responseChars: integer("response_chars").notNull().default(0),
    createdAt: text("created_at").notNull().default(utcNow),
  },
  (t) => [
    primaryKey({ columns: [t.datasetId, t.id] }),
    uniqueIndex("records_position_idx").on(t.datasetId, t.position),
    index("records_kind_idx").on(t.datasetId, t.kind, t.position),
    index("records_constraints_idx").on(t.datasetId, t.constraintCount, t.position),
  ],
);

/** An immutable version: the first `record_count` positions of its dataset, cut into shards. */
export const datasetVersions = sqliteTable(
  "dataset_versions",
  {
    datasetId: text("dataset_id")
      .notNull()
      .references(() => datasets.id),
    version: integer("version").notNull(),
    recordCount: integer("record_count").notNull(),
    shardSize: integer("shard_size").notNull(),
    description: text("description").notNull().default(""),
    createdAt: text("created_at").notNull().default(utcNow),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.version] })],
);

export type VersionRow = typeof datasetVersions.$inferSelect;

/** Per version, format and shard: the exact NDJSON body's line count, byte size and SHA-256. */
export const versionShards = sqliteTable(
  "version_shards",
  {
    datasetId: text("dataset_id").notNull(),
    version: integer("version").notNull(),
    format: text("format").notNull(),
    shard: integer("shard").notNull(),
    recordCount: integer("record_count").notNull(),
    lineCount: integer("line_count").notNull(),
    byteSize: integer("byte_size").notNull(),
    sha256: text("sha256").notNull(),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.version, t.format, t.shard] })],
);

/**
 * Long-running work over a dataset (quadruple builders, TRACE construction), batch by batch. `cursor` is
 * the next source position; it advances in the same D1 batch that writes the batch's output, so
 * an interrupted step leaves nothing half-done and a resumed job neither skips nor repeats.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    datasetId: text("dataset_id")
      .notNull()
      .references(() => datasets.id),
    /** The dataset the job writes to, by id: its name may mean another dataset to another caller. */
    targetDatasetId: text("target_dataset_id").references(() => datasets.id),
    /** Whom the job acts as (the key that created it; null: the admin token): who may control it, whose budget it spends. */
    ownerKeyId: text("owner_key_id"),
    kind: text("kind").notNull(),
    status: text("status", { enum: JOB_STATUSES }).notNull(),
    /** JSON: the job's parameters as given (validated). */
    params: text("params").notNull(),
    /** Source positions [0, total) are processed; `cursor` is the next one. */
    cursor: integer("cursor").notNull().default(0),
    total: integer("total").notNull(),
    /** JSON: counters (produced, skipped by reason, ...). */
    progress: text("progress").notNull().default("{}"),
    error: text("error"),
    /** A runner holds the job until then; others wait (no two runners step one job). */
    leaseUntil: integer("lease_until"),
    createdAt: text("created_at").notNull().default(utcNow),
    updatedAt: text("updated_at").notNull().default(utcNow),
  },
  (t) => [index("jobs_dataset_idx").on(t.datasetId, t.createdAt), index("jobs_target_idx").on(t.targetDatasetId, t.createdAt)],
);

/**
 * The LLM judge's cache: verdicts (kind "verdict") keyed by sha256(provider, model, prompt version,
 * instruction, response, constraint) and compilations of free text into checkers (kind "compile").
 * A repeated judgement makes no model call; `cache: "bypass"` recomputes and overwrites.
 */
export const llmCache = sqliteTable(
  "llm_cache",
  {
    key: text("key").primaryKey(),
    kind: text("kind", { enum: ["verdict", "compile", "generation"] }).notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    promptVersion: text("prompt_version").notNull(),
    /** JSON: {score, explanation, model} for a verdict; {decision, model} for a compilation. */
    value: text("value").notNull(),
    createdAt: text("created_at").notNull().default(utcNow),
  },
  (t) => [index("llm_cache_model_idx").on(t.provider, t.model, t.promptVersion)],
);

/**
 * Candidates an LLM or rule job rejected, one row per source position, with the stage that
 * rejected it and why: the job's reject table (why yield is low). Written in the same D1 batch as
 * the cursor advance, so a resumed job neither loses nor repeats rows.
 */
export const jobRejects = sqliteTable(
  "job_rejects",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => jobs.id),
    position: integer("position").notNull(),
    sourceRecord: text("source_record").notNull(),
    stage: text("stage").notNull(),
    reason: text("reason").notNull(),
    /** JSON: what was rejected (the candidate x2, the QC verdict, ...). */
    detail: text("detail").notNull().default("{}"),
    createdAt: text("created_at").notNull().default(utcNow),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.position] }), index("job_rejects_reason_idx").on(t.jobId, t.reason)],
);

/**
 * Tokens a job's model calls spent (summed from the providers' `usage`) and its cache hits. Added
 * to as each call returns, not at the end of a batch, so tokens of a batch that was interrupted
 * still count and a resumed job reports what the uninterrupted one would.
 */
export const jobUsage = sqliteTable("job_usage", {
  jobId: text("job_id")
    .primaryKey()
    .references(() => jobs.id),
  calls: integer("calls").notNull().default(0),
  promptTokens: integer("prompt_tokens").notNull().default(0),
  completionTokens: integer("completion_tokens").notNull().default(0),
  cacheHits: integer("cache_hits").notNull().default(0),
});

/**
 * Model calls and tokens spent per subject ("key:<id>", "address:<ip>", or "anonymous", the
 * ceiling on all anonymous callers together) per window (a UTC minute or day): what the spend
 * budgets (src/lib/spend.ts) count against. Rows older than two days are deleted as new ones come.
 */
export const llmSpend = sqliteTable(
  "llm_spend",
  {
    subject: text("subject").notNull(),
    period: text("period", { enum: ["minute", "day"] }).notNull(),
    /** The window's start, UTC: "2026-12-06T12:25" for a minute, "2026-12-06" for a day. */
    start: text("start").notNull(),
    calls: integer("calls").notNull().default(0),
    tokens: integer("tokens").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.subject, t.period, t.start] }), index("llm_spend_start_idx").on(t.start)],
);

/** An admin's per-key spend limits; a null column (or no row) means the default (LLM_BUDGET_KEY). */
export const keyBudgets = sqliteTable("key_budgets", {
  keyId: text("key_id")
    .primaryKey()
    .references(() => keys.id),
  callsPerMinute: integer("calls_per_minute"),
  callsPerDay: integer("calls_per_day"),
  tokensPerMinute: integer("tokens_per_minute"),
  tokensPerDay: integer("tokens_per_day"),
  updatedAt: text("updated_at").notNull().default(utcNow),
});
