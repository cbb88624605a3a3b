import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { ApiClient, ApiError, type IngestResult, LIMITS, ndjsonLine, type Taxonomy } from "@iopo/common";
import { apiConnection } from "../api-connection.ts";
import { InputError, parseCommandArgs, UsageError } from "@iopo/common/cli";
import {
  convertLine,
  IMPORT_EXAMPLES,
  IMPORT_FORMATS,
  ImportLineError,
  type ImportContext,
  type ImportFormat,
} from "../../datasets/importers.ts";

export const importUsage = `Usage: iopo import --api <url> --key <key> --dataset <name> --format <${IMPORT_FORMATS.join("|")}> <file.jsonl>
  Streams a JSONL file through the dataset API in batches. Creates the dataset if it does not exist
  (--visibility public|private, --description <text>). Re-running is safe: records are content-addressed.
  --batch <n>   records per request (default 2000, at most ${LIMITS.recordsPerRequest})
  IOPO_API_URL and IOPO_API_KEY may replace --api and --key.

A line of each --format, and the record it becomes:
${IMPORT_FORMATS.map((format) => `  ${format}: ${IMPORT_EXAMPLES[format].becomes}\n    ${IMPORT_EXAMPLES[format].line}`).join("\n")}`;

interface Totals {
  received: number;
  inserted: number;
  duplicates: number;
  record_count: number;
}

export interface ImportOptions {
  api: string;
  key: string;
  dataset: string;
  format: ImportFormat;
  file: string;
  batch?: number;
  visibility?: "public" | "private";
  description?: string;
  context?: ImportContext;
  log?: (line: string) => void;
}

/** A problem with the file or the API: the CLI prints its message as one line and exits 1. */
export class ImportError extends InputError {}

export async function importFile(options: ImportOptions): Promise<Totals> {
  const api = new ApiClient(options.api, { key: options.key });
  const batchSize = options.batch ?? 2000;
  try {
    await api.ensureDataset(options.dataset, { description: options.description, visibility: options.visibility });
  } catch (error) {
    throw asImportError(error, `could not read or create dataset "${options.dataset}"`);
  }
  const context: ImportContext = { ...options.context };
  if (options.format === "trace" && !context.dimensionLabels) context.dimensionLabels = await taxonomyLabels(api);

  const totals: Totals = { received: 0, inserted: 0, duplicates: 0, record_count: 0 };
  let batch: { fileLine: number; record: unknown }[] = [];
  const send = async () => {
    if (batch.length === 0) return;
    let body: IngestResult;
    try {
      body = await api.addRecords(
        options.dataset,
        batch.map((b) => b.record),
      );
    } catch (error) {
      if (!(error instanceof ApiError && error.status !== undefined)) throw asImportError(error, "could not send a batch");
      // map the request's line numbers back to the file's
      const first = error.fields[0];
      const where = first?.line !== undefined ? ` (file line ${batch[first.line - 1]?.fileLine}: ${first.field}: ${first.message})` : "";
      throw new ImportError(`the API refused a batch: ${error.status} ${error.detail ?? ""}${where}`);
    }
    totals.received += body.received;
    totals.inserted += body.inserted;
    totals.duplicates += body.duplicates;
    totals.record_count = body.record_count;
    options.log?.(`  ${totals.received} records sent, ${totals.inserted} new, ${totals.duplicates} duplicates`);
    batch = [];
  };

  const lines = createInterface({ input: createReadStream(options.file, "utf8"), crlfDelay: Infinity });
  let fileLine = 0;
  try {
    for await (const line of lines) {
      fileLine++;
      const entry = ndjsonLine(line, fileLine);
      if (entry === null) continue;
      if ("error" in entry)
        throw new ImportError(`${options.file}:${fileLine}: ${entry.error}; nothing after line ${fileLine - batch.length - 1} was sent`);
      try {
        batch.push({ fileLine, record: convertLine(options.format, entry.value, context) });
      } catch (error) {
        if (error instanceof ImportLineError) {
          throw new ImportError(`${options.file}:${fileLine}: ${error.field}: ${error.message} (format ${options.format})`);
        }
        throw error;
      }
      if (batch.length >= batchSize) await send();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ImportError(`no such file: ${options.file}`);
    throw error;
  }
  await send();
  return totals;
}

/** The Chinese labels the API's taxonomy knows (TRACE lines with other labels keep them in meta). */
async function taxonomyLabels(api: ApiClient): Promise<Set<string>> {
  let body: Taxonomy;
  try {
    body = await api.getJson("/v1/taxonomy");
  } catch (error) {
    throw asImportError(error, "could not read the taxonomy");
  }
  return new Set(body.types.flatMap((t) => t.dimensions.map((d) => d.label_zh)));
}

/** An API failure as an ImportError: an unreachable API as it is said, a refusal after what could not be done. */
function asImportError(error: unknown, what: string): unknown {
  if (!(error instanceof ApiError)) return error;
  return new ImportError(error.status === undefined ? error.message : `${what}: ${error.status} ${error.summary()}`);
}

/** `iopo import ...` */
export async function runImport(argv: string[], context: ImportContext = {}): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      api: { type: "string" },
      key: { type: "string" },
      dataset: { type: "string" },
      format: { type: "string" },
      batch: { type: "string" },
      visibility: { type: "string" },
      description: { type: "string" },
    },
    importUsage,
    { positionals: true, hints: true },
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { base: api, key } = apiConnection(values);
  const problems: string[] = [];
  if (!api) problems.push("--api is required");
  if (!key) problems.push("--key is required");
  if (!values.dataset) problems.push("--dataset is required");
  if (!values.format || !(IMPORT_FORMATS as readonly string[]).includes(values.format))
    problems.push(`--format must be one of ${IMPORT_FORMATS.join(", ")}`);
  if (positionals.length !== 1) problems.push("exactly one input file is required");
  const batch = values.batch === undefined ? undefined : Number(values.batch);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > LIMITS.recordsPerRequest))
    problems.push(`--batch must be an integer in [1, ${LIMITS.recordsPerRequest}]`);
  if (values.visibility !== undefined && values.visibility !== "public" && values.visibility !== "private")
    problems.push("--visibility must be public or private");
  if (problems.length) throw new UsageError(problems.join("; "), importUsage);
  const totals = await importFile({
    api: api!,
    key: key!,
    dataset: values.dataset!,
    format: values.format as ImportFormat,
    file: positionals[0]!,
    batch,
    visibility: values.visibility as "public" | "private" | undefined,
    description: values.description,
    context,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify({ dataset: values.dataset, ...totals })}\n`);
  return 0;
}
