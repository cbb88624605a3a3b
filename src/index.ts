import { buildApp } from "./app.ts";
import { warmUpJudgeRoute } from "./routes/judge.ts";

const app = buildApp();
// Fixed per-isolate costs are paid here, while the isolate starts, instead of in the first
// request's CPU time (which the Workers free plan caps at 10 ms):
// - Hono compiles its route table (one regular expression over every route) on the first match;
// - the judge route's code runs slowly the first time (compiled on first call, interpreted until
//   V8 has type feedback; zod sets up a schema's checks on its first parse): one request's work,
//   without the HTTP exchange (workerd allows no Request or Response at start-up), leaves it warm.
app.router.match("GET", "/");
warmUpJudgeRoute().catch((error) => console.error("judge warm-up failed", error));

export default app;
