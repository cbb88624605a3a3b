import type { ImportContext } from "../datasets/importers.ts";
import { describeConstraint } from "../judge/index.ts";

/** What importers need from the judge: the instruction text of each verifiable checker. */
export async function checkerContext(): Promise<ImportContext> {
  return {
    describe: (id, kwargs) => {
      try {
        return describeConstraint(id, kwargs);
      } catch {
        return id; // the API names the invalid checker when the record arrives
      }
    },
  };
}
