/** Vitest globalSetup of the worker project: starts the fake LLM provider and provides its URL. */
import type { TestProject } from "vitest/node";
import { startFakeLlm } from "./server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    fakeLlmUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const fake = await startFakeLlm();
  project.provide("fakeLlmUrl", fake.url);
  return () => fake.close();
}
