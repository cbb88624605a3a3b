import { buildApp } from "./app.ts";
import { jobContext } from "./datasets/job-context.ts";
import { consumeJobMessages, failDeadJobs, requeueJobs, requeueStalledJobs } from "./datasets/job-queue.ts";
import { JOB_QUEUE_CONFIG } from "./datasets/job-queue-config.ts";
import type { Bindings } from "./env.ts";
import { warmUpJudge } from "./judge/service/item.ts";

const app = buildApp();
// Fixed per-isolate costs are paid here, while the isolate starts, instead of in the first
// request's CPU time (which the Workers free plan caps at 10 ms):
// - Hono compiles its route table (one regular expression over every route) on the first match;
// - the judge route's code runs slowly the first time (compiled on first call, interpreted until
//   V8 has type feedback; zod sets up a schema's checks on its first parse): one request's work,
//   without the HTTP exchange (workerd allows no Request or Response at start-up), leaves it warm.
app.router.match("GET", "/");
warmUpJudge().catch((error) => console.error("judge warm-up failed", error));

/** A fresh isolate re-enqueues unfinished jobs once where JOB_REQUEUE_ON_START says so (local queues are lost with the dev server). */
let requeued = false;

export default {
  fetch(request: Request, env: Bindings, ctx?: ExecutionContext) {
    if (!requeued && env.JOB_QUEUE && env.JOB_REQUEUE_ON_START === "true") {
      requeued = true;
      const work = requeueJobs(env).catch((error) => console.error("re-enqueueing jobs failed", error));
      ctx?.waitUntil(work);
    }
    return app.fetch(request, env, ctx);
  },
  /** The cron sweeper: stalled jobs go back on the queue. */
  async scheduled(_controller: ScheduledController, env: Bindings) {
    await requeueStalledJobs(env);
  },
  async queue(batch: MessageBatch<unknown>, env: Bindings) {
    if (batch.queue === JOB_QUEUE_CONFIG.deadLetter) return failDeadJobs(batch, env);
    return consumeJobMessages(batch, env, await jobContext(env));
  },
} satisfies ExportedHandler<Bindings>;
