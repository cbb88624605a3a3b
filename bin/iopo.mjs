#!/usr/bin/env node
// `npx iopo ...`: the root CLI (src/cli/main.ts), on the project's Node 22, through tsx.
import { launch } from "@iopo/common/launch";

await launch(import.meta.url, new URL("../src/cli/main.ts", import.meta.url).href);
