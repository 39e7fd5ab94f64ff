// A committed segment read back: typed-array views over the postings file, the chunk store, and
// the segment's deletes. Views are taken in place (no copy); the term dictionary map and the
// filter bitmaps are built on first use.
import { Bitmap } from "./bitmap.js";
import { decodeDocIds } from "./doc-ids.js";
import { corrupt, formatOf, PayloadReader, unseal, type StringTable } from "./format.js";
import type { ChunkMeta } from "./segment-writer.js";

interface Facet {
  names: StringTable;
  index: Uint32Array;
  offsets: Uint32Array;
  bitmaps: Buffer;
  cache: Map<number, Bitmap>;
}

export class SegmentReader {
  readonly docs: number;
  readonly terms: StringTable;
  readonly kinds: Uint8Array;
  readonly scales: Float32Array;
  readonly termStart: Uint32Array;
  readonly docIds: Uint32Array | Uint16Array;
  readonly values: Uint8Array;
  readonly lengths: Uint32Array;
  readonly blockStart: Uint32Array;
  readonly blockLast: Uint32Array;
  readonly blockMax: Uint8Array;
  readonly blockMinLen: Uint32Array;
  readonly termMax: Uint8Array;
  readonly termMinLen: Uint32Array;
  /** Sum of `lengths`, for BM25's average length. */
  readonly totalLength: number;
  private readonly startLine: Int32Array;
  private readonly endLine: Int32Array;
  private readonly startCol: Int32Array;
  private readonly endCol: Int32Array;
  private readonly paths: Facet;
  private readonly roots: Facet;
  private readonly languages: Facet;
  private readonly symbols: StringTable;
  private readonly hashes: StringTable;
  /** Format 4 on; undefined for older segments (every chunk read as written, fully readable). */
  private readonly glossed: Facet | undefined;
  private readonly readable: Uint8Array | undefined;
  private dictionary?: Map<string, number>;

  constructor(
    readonly id: string,
    postFile: string,
    post: Buffer,
    storeFile: string,
    store: Buffer,
  ) {
    const p = new PayloadReader(postFile, unseal(postFile, "POST", post));
    const head = p.json<{ docs: number; terms: number; postings: number; docIdBytes: number }>();
    if ((head.docIdBytes !== 2 || head.docs > 65_536) && head.docIdBytes !== 4) throw corrupt(postFile, `doc ids of ${String(head.docIdBytes)} bytes for ${String(head.docs)} docs`);
    this.docs = head.docs;
    this.terms = p.strings();
    this.kinds = p.u8s();
    this.scales = p.f32s();
    this.termStart = p.u32s();
    // Format 2 held doc ids as plain arrays (viewed in place); format 3 as varint gaps.
    const format = formatOf(post);
    const idBytes = format === 2 ? null : p.bytes();
    const plainIds = format === 2 ? (head.docIdBytes === 2 ? p.u16s() : p.u32s()) : null;
    this.values = p.u8s();
    this.lengths = p.u32s();
    this.blockStart = p.u32s();
    this.blockLast = p.u32s();
    this.blockMax = p.u8s();
    this.blockMinLen = p.u32s();
    this.termMax = p.u8s();
    this.termMinLen = p.u32s();
    const nt = head.terms;
    if (
      this.terms.length !== nt || this.kinds.length !== nt || this.scales.length !== nt || this.termStart.length !== nt + 1 ||
      this.termStart[nt] !== head.postings || this.values.length !== head.postings ||
      this.lengths.length !== head.docs || this.blockStart.length !== nt + 1 || this.blockLast.length !== this.blockStart[nt] ||
      this.termMax.length !== nt
    ) {
      throw corrupt(postFile, "section sizes disagree");
    }
    for (let t = 0; t < nt; t++) if (this.termStart[t + 1]! < this.termStart[t]!) throw corrupt(postFile, "term offsets go backwards");
    // Doc ids are varint gaps on disk (doc-ids.ts), decoded once here: scoring reads plain arrays.
    if (plainIds) {
      if (plainIds.length !== head.postings) throw corrupt(postFile, "section sizes disagree");
      this.docIds = plainIds;
    } else {
      this.docIds = head.docIdBytes === 2 ? new Uint16Array(head.postings) : new Uint32Array(head.postings);
      const bad = decodeDocIds(idBytes!, this.termStart, nt, head.docs, this.docIds);
      if (bad) throw corrupt(postFile, bad);
    }
    let total = 0;
    for (let i = 0; i < this.lengths.length; i++) total += this.lengths[i]!;
    this.totalLength = total;

    const s = new PayloadReader(storeFile, unseal(storeFile, "STOR", store));
    if (s.json<{ docs: number }>().docs !== this.docs) throw corrupt(storeFile, "chunk count differs from its postings file");
    this.startLine = s.i32s();
    this.endLine = s.i32s();
    this.startCol = s.i32s();
    this.endCol = s.i32s();
    const facet = (): Facet => ({ names: s.strings(), index: s.u32s(), offsets: s.u32s(), bitmaps: s.bytes(), cache: new Map() });
    this.paths = facet();
    this.roots = facet();
    this.languages = facet();
    this.symbols = s.strings();
    this.hashes = s.strings();
    if (formatOf(store) >= 4) {
      this.glossed = facet();
      this.readable = s.u8s();
    }
    if (
      this.startLine.length !== this.docs || this.endLine.length !== this.docs || this.startCol.length !== this.docs || this.endCol.length !== this.docs ||
      this.paths.index.length !== this.docs || this.symbols.length !== this.docs || this.hashes.length !== this.docs ||
      (this.glossed !== undefined && (this.glossed.index.length !== this.docs || this.readable!.length !== this.docs))
    ) {
      throw corrupt(storeFile, "section sizes disagree");
    }
  }

  /** The term's ordinal in this segment, or -1. */
  term(term: string): number {
    if (!this.dictionary) {
      this.dictionary = new Map();
      for (let i = 0; i < this.terms.length; i++) this.dictionary.set(this.terms.get(i), i);
    }
    return this.dictionary.get(term) ?? -1;
  }

  chunk(doc: number): ChunkMeta {
    const startCol = this.startCol[doc]!;
    return {
      ...(startCol >= 0 ? { startCol, endCol: this.endCol[doc]! } : {}),
      path: this.paths.names.get(this.paths.index[doc]!),
      startLine: this.startLine[doc]!,
      endLine: this.endLine[doc]!,
      symbol: this.symbols.get(doc),
      hash: this.hashes.get(doc),
      root: this.roots.names.get(this.roots.index[doc]!),
      language: this.languages.names.get(this.languages.index[doc]!),
      ...this.reading(doc),
    };
  }

  /** How the chunk's latent vector was read: the language of the gloss the encoder read (absent: the text as written), and the readable share of the text (absent: 1). */
  private reading(doc: number): Pick<ChunkMeta, "glossedFrom" | "readable"> {
    if (!this.glossed) return {};
    const from = this.glossed.names.get(this.glossed.index[doc]!);
    const r = this.readable![doc]!;
    return { ...(from ? { glossedFrom: from } : {}), ...(r < 255 ? { readable: r / 255 } : {}) };
  }

  private facetBitmap(f: Facet, i: number): Bitmap {
    let b = f.cache.get(i);
    if (!b) {
      b = Bitmap.deserialize(f.bitmaps.subarray(f.offsets[i]!, f.offsets[i + 1]!), "portable");
      f.cache.set(i, b);
    }
    return b;
  }

  /** Docs whose value of a facet satisfies `match` (one bitmap per distinct value, OR-ed). */
  select(which: "path" | "root" | "language", match: (value: string) => boolean): Bitmap {
    const f = which === "path" ? this.paths : which === "root" ? this.roots : this.languages;
    const hits: Bitmap[] = [];
    for (let i = 0; i < f.names.length; i++) if (match(f.names.get(i))) hits.push(this.facetBitmap(f, i));
    return Bitmap.orMany(hits);
  }

  /** Docs with exactly this path (a shared bitmap: do not modify it). */
  docsOfPath(path: string): Bitmap {
    // Distinct paths are stored sorted, so one binary search finds it.
    const names = this.paths.names;
    let lo = 0, hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (names.get(mid) < path) lo = mid + 1;
      else hi = mid;
    }
    return lo < names.length && names.get(lo) === path ? this.facetBitmap(this.paths, lo) : new Bitmap();
  }
}
