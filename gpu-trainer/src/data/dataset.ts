/**
 * Where training examples come from: a dataset version on the API (`api://host[:port]/datasets/
 * <name>[@version]`, shards verified against the manifest's sha256 and cached), or a local JSONL
 * file. Either way the result is a list of records, each holding the examples its line(s) produced,
 * in record-position order: the order the shared permutation (@iopo/common) indexes.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { ApiClient, ApiError, type Manifest, type ManifestShard, type ShardFormat, ndjsonLines, recordIdOfLine } from "@iopo/common";
import type { Method } from "../train/losses.ts";
import { DataError, methodKinds, type Sample, parseSample } from "./samples.ts";

export interface Dataset {
  /** Identifies the exact data: the API version and format, or the file's sha256. */
  key: string;
  /** For logs: where it came from. */
  description: string;
  /** Per record (position order), the examples its lines hold. */
  records: Sample[][];
}

export const defaultCacheDir = () => process.env.IOPO_CACHE_DIR ?? join(homedir(), ".cache", "iopo");

export const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function parseLines(
  text: string,
  where: string,
  firstId: (line: number) => string,
): { line: number; sample: Sample; raw: Record<string, unknown> }[] {
  const out: { line: number; sample: Sample; raw: Record<string, unknown> }[] = [];
  for (const parsed of ndjsonLines(text)) {
    const { line } = parsed;
    if ("error" in parsed) throw new DataError(`${where}:${line}: ${parsed.error}`);
    const v = parsed.value as Record<string, unknown>;
    try {
      out.push({ line, sample: parseSample(v, firstId(line)), raw: v });
    } catch (e) {
      if (e instanceof DataError) throw new DataError(`${where}:${line}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** A local JSONL file: one record per line. */
export async function readLocalDataset(path: string): Promise<Dataset> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataError(err.code === "ENOENT" ? `no such data file: ${path}` : `cannot read ${path}: ${err.message}`);
  }
  const rows = parseLines(bytes.toString("utf8"), path, (n) => `line${n}`);
  if (!rows.length) throw new DataError(`${path}: no records`);
  return { key: `file:${sha256(bytes)}`, description: path, records: rows.map((r) => [r.sample]) };
}

// ---- the dataset API ----

export interface ApiLocation {
  /** http(s)://host:port */
  base: string;
  name: string;
  /** A version number or "latest". */
  version: string;
}

/** `api://host[:port]/datasets/<name>[@version]` (http) or `apis://...` (https). */
export function parseApiUrl(url: string): ApiLocation {
  const m = /^(apis?):\/\/([^/]+)\/datasets\/([^/@?#]+)(?:@([^/?#]+))?\/?$/.exec(url);
  if (!m) throw new DataError(`bad dataset URL "${url}": expected api://host[:port]/datasets/<name>[@version]`);
  const version = m[4] ?? "latest";
  if (version !== "latest" && !/^[1-9][0-9]*$/.test(version))
    throw new DataError(`bad version "${version}" in ${url} (a number or latest)`);
  return { base: `${m[1] === "apis" ? "https" : "http"}://${m[2]}`, name: decodeURIComponent(m[3]), version };
}

export interface ApiOptions {
  format: "iopo" | "dpo" | "sft";
  cacheDir?: string;
  apiKey?: string;
  log?: (line: string) => void;
}

/** The API's refusals, in the trainer's terms (a DataError is printed as one line). */
async function fromApi<T>(loc: ApiLocation, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === undefined) throw new DataError(`cannot reach the dataset API at ${loc.base} (${e.detail})`);
    if (e.status === 401 || e.status === 403)
      throw new DataError(`the API refused access to dataset "${loc.name}" (${e.status}): pass a key with --api-key or IOPO_API_KEY`);
    if (e.status === 404)
      throw new DataError(`dataset "${loc.name}" version ${loc.version} not found at ${loc.base}${e.detail ? ` (${e.detail})` : ""}`);
    // e.g. a format the version's records have no lines in: the API names the kinds held and the formats that fit
    if (e.status === 422 && e.detail) throw new DataError(`dataset "${loc.name}" version ${loc.version}: ${e.detail}`);
    throw new DataError(`the API answered ${e.status}: ${e.summary()}`);
  }
}

const manifest = (api: ApiClient, loc: ApiLocation, format: ShardFormat): Promise<Manifest> =>
  fromApi(loc, () => api.manifest(loc.name, loc.version, format));

/** A shard's bytes: from the cache when its sha256 matches, else downloaded, verified, cached. */
async function shardBytes(api: ApiClient, loc: ApiLocation, m: Manifest, s: ManifestShard, dir: string): Promise<Buffer> {
  const file = join(dir, `${s.name}.ndjson`);
  if (existsSync(file)) {
    const cached = await readFile(file);
    if (sha256(cached) === s.sha256) return cached;
  }
  // streamed to a temporary file while hashed; renamed into the cache only once verified
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const shard = await fromApi(loc, () => api.stream(s.url));
  const hash = createHash("sha256");
  const out = createWriteStream(tmp);
  try {
    await pipeline(
      Readable.fromWeb(shard as NodeReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
      out,
    );
    const got = hash.digest("hex");
    if (got !== s.sha256)
      throw new DataError(
        `shard ${s.index} of ${m.dataset}@${m.version} (${m.format}) failed its sha256 check: manifest ${s.sha256}, downloaded ${got}`,
      );
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, file);
  return readFile(file);
}

/**
 * Download (or reuse from the cache) every shard of a version in `format`, verify each against the
 * manifest's sha256, and group the lines by record. A record with no line in the format (an
 * instruction without a response, say) is an empty record; finding which records those are needs
 * the `records` format's ids, fetched only when a shard's line groups do not account for all of its
 * records.
 */
export async function fetchApiDataset(url: string, opts: ApiOptions): Promise<Dataset> {
  const loc = parseApiUrl(url);
  const api = new ApiClient(loc.base, { key: opts.apiKey });
  const m = await manifest(api, loc, opts.format);
  // pin "latest" to the concrete version, so a new version never mixes with a cached one
  const pinned = { ...loc, version: String(m.version) };
  const host = loc.base.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9.-]/g, "_");
  const root = join(opts.cacheDir ?? defaultCacheDir(), "datasets", host, loc.name, `v${m.version}`);
  const records: Sample[][] = [];
  let recordsManifest: Manifest | undefined;
  for (const s of m.shards) {
    const body = await shardBytes(api, pinned, m, s, join(root, opts.format));
    const rows = parseLines(body.toString("utf8"), `${loc.name}@${m.version} shard ${s.index}`, (n) => `s${s.index}l${n}`);
    const groups: { id: string; samples: Sample[] }[] = [];
    for (const r of rows) {
      const rid = recordIdOfLine(String(r.raw.id ?? r.sample.id));
      if (groups.length && groups[groups.length - 1].id === rid) groups[groups.length - 1].samples.push(r.sample);
      else groups.push({ id: rid, samples: [r.sample] });
    }
    if (groups.length === s.records) {
      for (const gr of groups) records.push(gr.samples);
      continue;
    }
    recordsManifest ??= await manifest(api, pinned, "records");
    const rs = recordsManifest.shards[s.index];
    const ids = ndjsonLines((await shardBytes(api, pinned, recordsManifest, rs, join(root, "records"))).toString("utf8")).map((l) => {
      if ("error" in l) throw new DataError(`records shard ${rs.index}:${l.line}: ${l.error}`);
      return String((l.value as { id: unknown }).id);
    });
    const byId = new Map(groups.map((gr) => [gr.id, gr.samples]));
    for (const id of ids) records.push(byId.get(id) ?? []);
  }
  if (records.length !== m.record_count)
    throw new DataError(`${loc.name}@${m.version}: the shards hold ${records.length} records, the manifest says ${m.record_count}`);
  opts.log?.(
    `data: ${loc.name}@${m.version} (${opts.format}): ${m.record_count} records, ${m.line_count} lines, ${m.shard_count} shard(s) verified`,
  );
  return { key: `api:${host}/${loc.name}@${m.version}/${opts.format}`, description: `${url} (version ${m.version})`, records };
}

/** What a record kind is for, said when the chosen method cannot train on it. */
const KIND_USES: Record<string, string> = {
  instruction:
    "instruction records (prompts without responses) train no method: `iopo build-trace` answers them into sft records, `iopo-train eval --dataset` scores a model on them",
  sft: "sft records train --method sft, and `iopo build-quadruples` builds iopo records from them",
  dpo: "dpo records train --method dpo or sft",
};

/**
 * For a run that found too few examples: what an API dataset holds by record kind, and what would
 * use the kinds this method cannot (undefined for a local file, whose lines are checked one by one,
 * or when the API cannot say).
 */
export async function describeHoldings(src: string, method: Method, apiKey?: string): Promise<string | undefined> {
  if (!/^apis?:\/\//.test(src)) return undefined;
  const loc = parseApiUrl(src);
  const detail = await new ApiClient(loc.base, { key: apiKey }).dataset(loc.name).catch(() => undefined);
  if (!detail) return undefined;
  const kinds = Object.entries(detail.statistics.by_kind)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const trains = methodKinds(method);
  // the kinds it holds, most first, then the method's kinds it lacks: "541 instruction records, 0 iopo"
  const counts = [...kinds, ...trains.filter((kind) => !kinds.some(([k]) => k === kind)).map((kind) => [kind, 0] as const)];
  return [
    `dataset "${loc.name}" holds ${counts.map(([kind, n], i) => `${n} ${kind}${i === 0 ? " records" : ""}`).join(", ")}, and --method ${method} trains on ${trains.join(", ")} records`,
    ...kinds.filter(([kind]) => !trains.includes(kind)).map(([kind]) => KIND_USES[kind] ?? `${kind} records train no method`),
  ].join("; ");
}

/** Open a data source: api://..., apis://... or a local JSONL path. */
export async function openDataset(src: string, opts: ApiOptions): Promise<Dataset> {
  if (/^apis?:\/\//.test(src)) return fetchApiDataset(src, opts);
  return readLocalDataset(src);
}
