/** A minimal protobuf writer (proto3 wire format): varints, length-delimited fields, fixed32. */
export class PbWriter {
  private parts: Uint8Array[] = [];
  private cur: number[] = [];
  private len = 0;

  get length(): number {
    return this.len + this.cur.length;
  }

  private flush() {
    if (this.cur.length) {
      this.parts.push(Uint8Array.from(this.cur));
      this.len += this.cur.length;
      this.cur = [];
    }
  }

  /** Unsigned varint of a non-negative safe integer, or any int64 as bigint (two's complement). */
  varint(v: number | bigint): this {
    if (typeof v === "number") {
      if (v >= 0 && v <= 0x7fffffff) {
        let x = v;
        while (x > 0x7f) {
          this.cur.push((x & 0x7f) | 0x80);
          x >>>= 7;
        }
        this.cur.push(x);
        return this;
      }
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint: ${v} is not a safe integer`);
      v = BigInt(v);
    }
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.cur.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.cur.push(Number(x));
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.cur.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.flush();
    if (data.length) {
      this.parts.push(data);
      this.len += data.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, sub: PbWriter): this {
    sub.flush();
    this.tag(field, 2).varint(sub.len);
    this.flush();
    this.parts.push(...sub.parts);
    this.len += sub.len;
    return this;
  }

  /** Packed repeated varints (int64s). */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const w = new PbWriter();
    for (const v of vs) w.varint(v);
    return this.message(field, w);
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.len);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
