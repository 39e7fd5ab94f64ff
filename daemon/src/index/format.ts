// The envelope every index file shares, and the little binary builder/reader the segment files
// are made of. A file is
//
//   magic "LOUPEIDX" (8) · kind (4 ASCII) · format version (u32 LE) · payload · crc32 (u32 LE)
//   · end marker "XDIE" (4)
//
// The crc32 covers everything before it, so a flipped byte anywhere, a truncated file or a
// file of the wrong kind is refused at open. Payload sections that hold typed arrays start at
// 8-byte offsets, so a reader can view them in place without copying.
import * as zlib from "node:zlib";
import { ErrorCode, LoupeError } from "@loupe/protocol";

/**
 * Bumped whenever any index file's layout changes. New files are written in this version; files
 * of READABLE_FORMATS are still read (segments of an older version live on until a merge
 * rewrites them), and anything else is refused with INDEX_VERSION.
 */
export const INDEX_FORMAT = 4;

/**
 * 2: doc ids as plain u16/u32 arrays; 3: doc ids as varint gaps (doc-ids.ts); 4: the store also
 * records how each chunk's latent vector was read (its gloss language and readable share). Other
 * files are the same in all three. Chunks of older segments read as "as written, fully
 * readable", so fusion trusts them as it did before (search/fusion.ts chunkTrust) until their
 * files are indexed again: the index is not rebuilt for it (that would encode every chunk again).
 */
export const READABLE_FORMATS: readonly number[] = [2, 3, 4];

export const MAGIC = Buffer.from("LOUPEIDX", "ascii");
const END = Buffer.from("XDIE", "ascii");
const HEADER = 16;
const TRAILER = 8;

export type FileKind = "META" | "POST" | "STOR" | "DELS";

// zlib.crc32 exists from Node 20.15; the table fallback keeps older Node 20 releases working.
const nativeCrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let table: Uint32Array | undefined;
export function crc32(data: Uint8Array): number {
  if (nativeCrc) return nativeCrc(data) >>> 0;
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function corrupt(file: string, what: string): LoupeError {
  return new LoupeError(
    ErrorCode.IndexCorrupt,
    `index file ${file} is damaged (${what}); delete the index folder and run \`loupe reindex\` to rebuild it`,
  );
}

/** Wraps payload parts into one file: header, the parts in order, checksum, end marker. */
export function seal(kind: FileKind, parts: readonly Uint8Array[]): Buffer {
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header.write(kind, 8, "ascii");
  header.writeUInt32LE(INDEX_FORMAT, 12);
  const body = Buffer.concat([header, ...parts]);
  const trailer = Buffer.alloc(TRAILER);
  trailer.writeUInt32LE(crc32(body), 0);
  END.copy(trailer, 4);
  return Buffer.concat([body, trailer]);
}

/** The format version in a file's header (after `unseal` has accepted it). */
export function formatOf(data: Buffer): number {
  return data.readUInt32LE(12);
}

/**
 * Checks a file's envelope and returns its payload (a view, 8-byte aligned in memory).
 * Throws INDEX_CORRUPT for anything damaged and INDEX_VERSION for another format version.
 */
export function unseal(name: string, kind: FileKind, data: Buffer): Buffer {
  if (data.length < HEADER + TRAILER) throw corrupt(name, `${data.length} bytes is shorter than any index file`);
  if (!data.subarray(0, 8).equals(MAGIC)) throw corrupt(name, "not a Loupe index file");
  if (!data.subarray(data.length - 4).equals(END)) throw corrupt(name, "truncated");
  const stored = data.readUInt32LE(data.length - TRAILER);
  if (crc32(data.subarray(0, data.length - TRAILER)) !== stored) throw corrupt(name, "checksum mismatch");
  const actualKind = data.toString("ascii", 8, 12);
  if (actualKind !== kind) throw corrupt(name, `a ${actualKind} file where a ${kind} file belongs`);
  const version = data.readUInt32LE(12);
  if (!READABLE_FORMATS.includes(version)) {
    throw new LoupeError(
      ErrorCode.IndexVersion,
      `index file ${name} has format version ${version}; this Loupe reads versions ${READABLE_FORMATS.join(" and ")}. Run \`loupe reindex\` to rebuild the index`,
    );
  }
  let payload = data.subarray(HEADER, data.length - TRAILER);
  // Typed-array views need aligned offsets; fs buffers are, pooled small buffers may not be.
  if (payload.byteOffset % 8 !== 0) payload = Buffer.from(payload);
  return payload;
}

/** Builds a payload of sections; each typed array starts 8-byte aligned (relative to the payload, which starts at 16). */
export class PayloadWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private pad(): void {
    const rem = this.length % 8;
    if (rem) this.push(new Uint8Array(8 - rem));
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.byteLength;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
    return this;
  }

  /** A length-prefixed JSON value (small headers only). */
  json(v: unknown): this {
    return this.bytes(Buffer.from(JSON.stringify(v), "utf8"));
  }

  /** A length-prefixed byte array, then padding so the next section is aligned. */
  bytes(b: Uint8Array): this {
    this.u32(b.byteLength);
    this.u32(0);
    this.push(b);
    this.pad();
    return this;
  }

  array(a: Uint32Array | Uint16Array | Int32Array | Float32Array | Float64Array | Uint8Array): this {
    return this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  /** Strings as one UTF-8 blob plus n + 1 byte offsets. */
  strings(list: readonly string[]): this {
    const blobs = list.map((s) => Buffer.from(s, "utf8"));
    const offsets = new Uint32Array(list.length + 1);
    for (let i = 0; i < blobs.length; i++) offsets[i + 1] = offsets[i]! + blobs[i]!.length;
    this.array(offsets);
    return this.bytes(Buffer.concat(blobs));
  }

  finish(): Uint8Array[] {
    return this.parts;
  }
}

/** Reads sections in the order PayloadWriter wrote them; every read is bounds-checked. */
export class PayloadReader {
  private pos = 0;
  constructor(private readonly name: string, private readonly b: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw corrupt(this.name, "section runs past the end");
  }

  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(): Buffer {
    const n = this.u32();
    this.u32();
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.pos += (8 - ((this.pos + HEADER) % 8)) % 8;
    return out;
  }

  json<T>(): T {
    try {
      return JSON.parse(this.bytes().toString("utf8")) as T;
    } catch (e) {
      if (e instanceof LoupeError) throw e;
      throw corrupt(this.name, "unreadable header");
    }
  }

  private view<T>(ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
    const b = this.bytes();
    if (b.length % ctor.BYTES_PER_ELEMENT !== 0) throw corrupt(this.name, "misaligned section");
    return new ctor(b.buffer, b.byteOffset, b.length / ctor.BYTES_PER_ELEMENT);
  }

  u32s(): Uint32Array { return this.view(Uint32Array); }
  u16s(): Uint16Array { return this.view(Uint16Array); }
  i32s(): Int32Array { return this.view(Int32Array); }
  f32s(): Float32Array { return this.view(Float32Array); }
  u8s(): Uint8Array { return this.view(Uint8Array); }

  strings(): StringTable {
    const offsets = this.u32s();
    const blob = this.bytes();
    if (offsets.length === 0 || offsets[offsets.length - 1] !== blob.length) throw corrupt(this.name, "string table does not add up");
    return new StringTable(offsets, blob);
  }
}

/** Strings decoded on demand from a blob (term dictionaries, paths and symbols are read lazily). */
export class StringTable {
  constructor(private readonly offsets: Uint32Array, private readonly blob: Buffer) {}
  get length(): number {
    return this.offsets.length - 1;
  }
  get(i: number): string {
    return this.blob.toString("utf8", this.offsets[i]!, this.offsets[i + 1]!);
  }
  all(): string[] {
    return Array.from({ length: this.length }, (_, i) => this.get(i));
  }
}
