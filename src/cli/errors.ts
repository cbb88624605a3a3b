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
