/**
 * The safetensors format, read and written here without dependencies:
 *   [u64 little-endian header length N][N bytes of JSON header][tensor bytes]
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the end of the header), plus an optional "__metadata__" map of strings. Tensors are read one
 * at a time with positioned reads, so a checkpoint larger than memory never has to be loaded whole.
 * `readF32` widens fp16 and bf16 to fp32 (master weights that train); `readWeight` keeps them
 * 16-bit (a frozen base: on the host at the checkpoint's size, not twice it).
 *
 * Sharded checkpoints: `model.safetensors.index.json` = {metadata: {total_size}, weight_map: {name:
 * file}}, as transformers writes them.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { f16ToF32, f32ToF16 } from "@iopo/graph";

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file. */
  dataStart: number;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** A tensor held as fp32 (what the trainer computes with), with its shape. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** A float tensor as the trainer holds it on the host: fp32, or fp16 bits (Uint16Array). */
export interface WeightTensor {
  shape: number[];
  data: Float32Array | Uint16Array;
}

/** bf16 bits -> fp16 bits (round to nearest even), for all 2^16 of them: one lookup per value. */
let bf16ToF16Table: Uint16Array | undefined;
function bf16ToF16(): Uint16Array {
  if (!bf16ToF16Table) {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    bf16ToF16Table = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) {
      u[0] = h << 16;
      bf16ToF16Table[h] = f32ToF16(f[0]);
    }
  }
  return bf16ToF16Table;
}

/**
 * bf16 bits converted to fp16 bits in place, or undefined where a finite value lies beyond fp16's
 * range (|x| > 65504). bf16's 8-bit mantissa fits fp16's 10 bits, so the conversion is exact for
 * |x| >= 2^-14 (fp16's smallest normal); smaller values keep fewer bits (fp16 subnormals, zero below
 * 2^-24), which is below what a weight's contribution to a sum of thousands of fp16-rounded terms
 * keeps anyway. fp16 rather than bf16 on the device: every engine here has fp16 tensors and
 * kernels (WebGPU's shader-f16, onnxruntime's CPU Cast), bf16 none.
 */
export function bf16ToF16InPlace(h: Uint16Array): Uint16Array | undefined {
  const table = bf16ToF16();
  // check every value before changing any: a refused tensor is still bf16 for the fp32 fallback
  for (let i = 0; i < h.length; i++) if ((table[h[i]] & 0x7fff) === 0x7c00 && (h[i] & 0x7fff) !== 0x7f80) return undefined;
  for (let i = 0; i < h.length; i++) h[i] = table[h[i]];
  return h;
}

/** Parse a header from the first bytes of a file (`bytes` must hold at least 8 + N bytes). */
export function parseHeader(bytes: Uint8Array, fileSize: number, where = "safetensors"): SafetensorsHeader {
  if (bytes.length < 8) throw new SafetensorsError(`${where}: file too short for a safetensors header`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > 100 * 1024 * 1024 || 8 + n > fileSize) throw new SafetensorsError(`${where}: bad header length ${n}`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    throw new SafetensorsError(`${where}: header is not JSON (${(e as Error).message})`);
  }
  const tensors: Record<string, TensorEntry> = {};
  let metadata: Record<string, string> = {};
  const dataSize = fileSize - 8 - n;
  for (const [name, v] of Object.entries(json)) {
    if (name === "__metadata__") {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in BYTES)) throw new SafetensorsError(`${where}: tensor ${name} has unsupported dtype ${e.dtype}`);
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const [b, en] = e.data_offsets;
    if (en - b !== numel * BYTES[e.dtype as SafetensorsDType] || b < 0 || en > dataSize)
      throw new SafetensorsError(`${where}: tensor ${name} has inconsistent offsets [${b}, ${en}] for ${e.dtype}[${e.shape}]`);
    tensors[name] = { dtype: e.dtype as SafetensorsDType, shape: e.shape, dataOffsets: [b, en] };
  }
  return { tensors, metadata, dataStart: 8 + n };
}

/** Decode raw little-endian bytes of a float dtype to fp32. */
export function decodeToF32(dtype: SafetensorsDType, raw: Uint8Array, name = "tensor"): Float32Array {
  const n = raw.byteLength / BYTES[dtype];
  // copy into an aligned buffer first: offsets inside a file are not 4-byte aligned in general
  const buf = new ArrayBuffer(raw.byteLength);
  new Uint8Array(buf).set(raw);
  switch (dtype) {
    case "F32":
      return new Float32Array(buf);
    case "F64":
      return Float32Array.from(new Float64Array(buf));
    case "F16": {
      const h = new Uint16Array(buf);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(h[i]);
      return out;
    }
    case "BF16": {
      // bf16 is the upper half of an fp32: widen by shifting into the high 16 bits
      const h = new Uint16Array(buf);
      const u = new Uint32Array(n);
      for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      return new Float32Array(u.buffer);
    }
    default:
      throw new SafetensorsError(`${name}: dtype ${dtype} is not a float type`);
  }
}

/** Encode fp32 values as `dtype` bytes (round to nearest even for F16/BF16). */
export function encodeFromF32(dtype: "F32" | "F16" | "BF16", data: Float32Array): Uint8Array {
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint16Array(data.length);
  if (dtype === "F16") for (let i = 0; i < data.length; i++) out[i] = f32ToF16(data[i]);
  else {
    const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      const x = u[i];
      if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff)
        out[i] = (x >>> 16) | 0x40; // NaN stays NaN
      else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
  }
  return new Uint8Array(out.buffer);
}

function writtenDtype(t: WeightTensor, opts: WriteOptions): "F32" | "F16" | "BF16" {
  return opts.dtype ?? (t.data instanceof Uint16Array ? "F16" : "F32");
}

/** A tensor's bytes in `dtype`: fp16 bits written as F16 are the bytes held, not a round trip. */
function encodeWeight(t: WeightTensor, dtype: "F32" | "F16" | "BF16"): Uint8Array {
  const d = t.data;
  if (d instanceof Float32Array) return encodeFromF32(dtype, d);
  if (dtype === "F16") return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return encodeFromF32(dtype, decodeToF32("F16", new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
}

/** A safetensors file opened for tensor-by-tensor reading. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const fh = await open(path, "r").catch((e: NodeJS.ErrnoException) => {
      throw new SafetensorsError(e.code === "ENOENT" ? `no such file: ${path}` : `cannot open ${path}: ${e.message}`);
    });
    try {
      const { size } = await fh.stat();
      const head = new Uint8Array(8);
      await fh.read(head, 0, 8, 0);
      if (size < 8) throw new SafetensorsError(`${path}: file too short`);
      const n = Number(new DataView(head.buffer).getBigUint64(0, true));
      if (n > 100 * 1024 * 1024 || 8 + n > size) throw new SafetensorsError(`${path}: not a safetensors file (header length ${n})`);
      const all = new Uint8Array(8 + n);
      await fh.read(all, 0, 8 + n, 0);
      return new SafetensorsFile(path, parseHeader(all, size, path));
    } finally {
      await fh.close();
    }
  }

  get names(): string[] {
    return Object.keys(this.header.tensors);
  }

  /**
   * A tensor's bytes, in a new buffer or at the start of `scratch` (where it is large enough: the
   * bytes are then valid until the next read into it).
   */
  async readRaw(name: string, scratch?: Uint8Array): Promise<Uint8Array> {
    const e = this.header.tensors[name];
    if (!e) throw new SafetensorsError(`${this.path}: no tensor ${name}`);
    const [b, en] = e.dataOffsets;
    const out = scratch && scratch.byteLength >= en - b ? scratch.subarray(0, en - b) : new Uint8Array(en - b);
    const fh = await open(this.path, "r");
    try {
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await fh.read(out, done, out.length - done, this.header.dataStart + b + done);
        if (!bytesRead) throw new SafetensorsError(`${this.path}: truncated data for ${name}`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return out;
  }

  /** A float tensor as fp32. */
  async readF32(name: string): Promise<F32Tensor> {
    const e = this.header.tensors[name];
    if (!e) throw new SafetensorsError(`${this.path}: no tensor ${name}`);
    return { shape: [...e.shape], data: decodeToF32(e.dtype, await this.readRaw(name), name) };
  }

  /**
   * A float tensor with 16-bit ones kept 16-bit: F16 as a view over the bytes read from the file,
   * BF16 converted to fp16 in the same buffer (fp32 where a value is past fp16's range, see
   * bf16ToF16InPlace); F32 and F64 as fp32. With `scratch` (see readRaw), 16-bit data may be a
   * view over it: for a caller that copies it (a transpose) before the next read.
   */
  async readWeight(name: string, scratch?: Uint8Array): Promise<WeightTensor> {
    const e = this.header.tensors[name];
    if (!e) throw new SafetensorsError(`${this.path}: no tensor ${name}`);
    if (e.dtype !== "F16" && e.dtype !== "BF16") return this.readF32(name);
    // readRaw's bytes start at offset 0 of their buffer: 2-byte aligned
    const raw = await this.readRaw(name, scratch);
    const bits = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const data = e.dtype === "F16" ? bits : (bf16ToF16InPlace(bits) ?? decodeToF32("BF16", raw, name));
    return { shape: [...e.shape], data };
  }
}

export interface WriteOptions {
  /** Every tensor in this dtype; by default fp32 tensors are written F32 and fp16 ones F16, as held. */
  dtype?: "F32" | "F16" | "BF16";
  metadata?: Record<string, string>;
}

/**
 * Write tensors to one safetensors file (names sorted, as the Python writer does). The file is
 * written under a temporary name and renamed, so a crash never leaves a truncated checkpoint.
 */
export async function writeSafetensors(path: string, tensors: Record<string, WeightTensor>, opts: WriteOptions = {}): Promise<void> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors[name];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new SafetensorsError(`${name}: ${t.data.length} values for shape [${t.shape}]`);
    const dtype = writtenDtype(t, opts);
    const bytes = numel * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data section starts 8-byte aligned
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hbytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    await fh.write(prefix);
    await fh.write(hbytes);
    for (const name of names) await fh.write(encodeWeight(tensors[name], writtenDtype(tensors[name], opts)));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Write a checkpoint the way transformers' save_pretrained does: `model.safetensors`, or shards
 * `model-00001-of-0000N.safetensors` plus `model.safetensors.index.json` above `maxShardBytes`.
 * `prefix` changes the base name (e.g. "adapter_model").
 */
export async function writeCheckpointWeights(
  dir: string,
  tensors: Record<string, WeightTensor>,
  opts: WriteOptions & { maxShardBytes?: number; prefix?: string } = {},
): Promise<string[]> {
  const base = opts.prefix ?? "model";
  const maxBytes = opts.maxShardBytes ?? 5 * 1024 ** 3;
  const names = Object.keys(tensors).sort();
  const groups: string[][] = [[]];
  let size = 0;
  let total = 0;
  for (const n of names) {
    const b = tensors[n].data.length * BYTES[writtenDtype(tensors[n], opts)];
    if (size + b > maxBytes && groups[groups.length - 1].length) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(n);
    size += b;
    total += b;
  }
  const metadata = { format: "pt", ...opts.metadata };
  await mkdir(dir, { recursive: true });
  if (groups.length === 1) {
    const file = `${base}.safetensors`;
    await writeSafetensors(join(dir, file), tensors, { dtype: opts.dtype, metadata });
    await rm(join(dir, `${base}.safetensors.index.json`), { force: true });
    return [file];
  }
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < groups.length; i++) {
    const file = `${base}-${String(i + 1).padStart(5, "0")}-of-${String(groups.length).padStart(5, "0")}.safetensors`;
    await writeSafetensors(join(dir, file), Object.fromEntries(groups[i].map((n) => [n, tensors[n]])), { dtype: opts.dtype, metadata });
    for (const n of groups[i]) weightMap[n] = file;
    files.push(file);
  }
  await writeFile(
    join(dir, `${base}.safetensors.index.json`),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  return files;
}

/**
 * Open the weights of a checkpoint folder: `model.safetensors.index.json` (sharded) or
 * `model.safetensors`. Returns a name -> file map.
 */
export async function openCheckpointWeights(dir: string, prefix = "model"): Promise<Map<string, SafetensorsFile>> {
  const index = join(dir, `${prefix}.safetensors.index.json`);
  const single = join(dir, `${prefix}.safetensors`);
  const out = new Map<string, SafetensorsFile>();
  if (existsSync(index)) {
    let idx: { weight_map?: Record<string, string> };
    try {
      idx = JSON.parse(await readFile(index, "utf8"));
    } catch (e) {
      throw new SafetensorsError(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (!idx.weight_map) throw new SafetensorsError(`${index}: no weight_map`);
    const files = new Map<string, SafetensorsFile>();
    for (const [name, file] of Object.entries(idx.weight_map)) {
      let f = files.get(file);
      if (!f) {
        f = await SafetensorsFile.open(join(dir, file));
        files.set(file, f);
      }
      if (!f.header.tensors[name]) throw new SafetensorsError(`${file}: the index lists ${name} but the shard does not hold it`);
      out.set(name, f);
    }
    return out;
  }
  if (existsSync(single)) {
    const f = await SafetensorsFile.open(single);
    for (const n of f.names) out.set(n, f);
    return out;
  }
  throw new SafetensorsError(`no ${prefix}.safetensors or ${prefix}.safetensors.index.json in ${dir}`);
}
