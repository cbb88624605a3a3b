import { ApiError } from "@iopo/common";

/** A problem with the user's files or arguments: printed as one line, then exit with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    /** 1 for bad input files, 2 for bad usage. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * An API failure on a batch of lines as a CliError: "the API refused a batch: 422 <detail> (batch
 * line 2: <field>: <message>)", or why the API could not be reached. Anything else as it is.
 */
export function batchError(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  return new CliError(
    error.status === undefined ? error.message : `the API refused a batch: ${error.status} ${error.summary("batch line ")}`,
  );
}
