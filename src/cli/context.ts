import type { ImportContext } from "../datasets/importers";

/** What importers need from the judge: the instruction text of each verifiable checker. */
export async function checkerContext(): Promise<ImportContext> {
  return {};
}
