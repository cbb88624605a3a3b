/**
 * The job queue's consumer settings as wrangler.toml declares them (both environments); the
 * Worker's dead-letter routing and retry count in messages use these, and
 * test/node/wrangler-config.test.ts checks the two agree.
 */
export const JOB_QUEUE_CONFIG = { name: "iopo-jobs", deadLetter: "iopo-jobs-dlq", maxRetries: 8, maxConcurrency: 4 } as const;
