#!/usr/bin/env node
// `npx iopo-train ...`: the trainer's CLI (src/cli/main.ts), on the project's Node 22, through tsx.
import { launch } from "@iopo/common/launch";

await launch(import.meta.url, new URL("../src/cli/main.ts", import.meta.url).href);
