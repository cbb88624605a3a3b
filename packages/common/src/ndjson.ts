/**
 * Reading NDJSON (JSONL), the one way the Worker's bodies and the CLI's files are read: one JSON
 * value per line, blank lines skipped, a CRLF ending accepted, lines numbered from 1. A line that
 * is not JSON is returned as that line's error, never thrown, so every caller reports it the same
 * way and with the rest of its validation: the API as a field error of that line (or of that item
 * in a batch), the CLI as `file:line`.
 */

export type NdjsonLine = { line: number; value: unknown } | { line: number; error: string };

/** One line (numbered `line`), or null for a blank one; for files read a line at a time. */
export function ndjsonLine(raw: string, line: number): NdjsonLine | null {
  const json = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (json.trim() === "") return null;
  try {
    return { line, value: JSON.parse(json) };
  } catch (error) {
    return { line, error: `not valid JSON: ${(error as Error).message}` };
  }
}

/** Every non-blank line of `text`, in order. */
export function ndjsonLines(text: string): NdjsonLine[] {
  return text.split("\n").flatMap((raw, i) => ndjsonLine(raw, i + 1) ?? []);
}
