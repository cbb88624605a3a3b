import { buildApp } from "./app.ts";
import { judgeConstraints } from "./judge/index.ts";
import { parseJudgeItem } from "./routes/judge.ts";

const app = buildApp();
// Fixed per-isolate costs are paid here, while the isolate starts, instead of in the first
// request's CPU time (which the Workers free plan caps at 10 ms):
// - Hono compiles its route table (one regular expression over every route) on the first match;
// - the judge's code runs slowly the first time (compiled on first call, interpreted until V8 has
//   type feedback); judging one short text here, with language detection (the costliest checker
//   to run cold), leaves it warmed for the first real request;
// - zod's first parse with a schema sets up its checks: the judge request's schema parses one body.
app.router.match("GET", "/");
parseJudgeItem({ response: "Ready.", constraints: [{ id: "punctuation:no_comma" }, { text: "Be brief." }], mode: "strict" });
judgeConstraints(
  "The quick brown fox jumps over the lazy dog. The judge is ready.",
  [{ id: "language:response_language", kwargs: { language: "en" } }],
  "strict",
);

export default app;
