import { ApiError } from "@iopo/common";
import { InputError } from "@iopo/common/cli";

/**
 * An API failure on a batch of lines as an InputError: "the API refused a batch: 422 <detail> (batch
 * line 2: <field>: <message>)", or why the API could not be reached. Anything else as it is.
 */
export function batchError(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  return new InputError(
    error.status === undefined ? error.message : `the API refused a batch: ${error.status} ${error.summary("batch line ")}`,
  );
}
