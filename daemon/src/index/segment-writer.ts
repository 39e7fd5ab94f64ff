// Collects added chunks in memory and turns them into one segment's content (SegmentData),
// which the serializer writes. Postings are gathered in flat typed arrays and grouped by term
// with one counting sort at the end, so adding 400 latents per chunk costs no per-posting
// allocation.
import type { SparseVector } from "../sparse-vector.js";
import { latentTerm, LEXICAL_PREFIX } from "./terms.js";

/** Where a chunk came from and what to show for it. */
export interface ChunkMeta {
  /** Path relative to its workspace root, with `/` separators. */
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** Enclosing symbol or heading; "" when none. */
  symbol: string;
  /**
   * Content hash of the chunk text (any stable string, e.g. hex sha256). The index keeps no copy
   * of the text: it is read back from the file (lines startLine..endLine, or the piece
   * startCol..endCol of one long line) and checked against this hash.
   */
  hash: string;
  /** Only on a piece of one over-long line: the piece is line.slice(startCol, endCol) (UTF-16 offsets). */
  startCol?: number;
  endCol?: number;
  /** Workspace root the path is relative to. */
  root: string;
  /** Language or file kind ("ts", "markdown", …); "" when unknown. */
  language: string;
  /**
   * Notes only: the natural language (ISO 639-1) this chunk's latent vector was read in
   * translation from, i.e. the encoder read its English gloss (analysis/bridge.ts); absent when
   * the encoder read the text as written.
   */
  glossedFrom?: string;
  /**
   * Share of the letters of the text as written that are in scripts the encoder reads
   * (analysis/scripts.ts `readableShare`), in [0, 1], kept to 1/255; absent means 1. Fusion
   * trusts the latent vector of a chunk read as written by it (search/fusion.ts).
   */
  readable?: number;
}

export interface ChunkInput extends ChunkMeta {
  /** Lexical terms as the analyzer produced them, repeats included (their count is the BM25 length). */
  lexical?: readonly string[];
  /** The chunk's latent vector; weights must be ≥ 0. */
  latent?: SparseVector;
}

export const enum TermKind {
  /** value = quantised weight; contribution = query weight × value / 255 × scale. */
  Impact = 0,
  /** value = term frequency (capped at 255); contribution = BM25 of it with the index's statistics. */
  Bm25 = 1,
}

/** One segment's content, in the shape the serializer writes and a merge produces. */
export interface SegmentData {
  docs: number;
  /** Sorted ascending (JS string order). */
  terms: string[];
  kinds: Uint8Array;
  /** Impact terms: the weight that value 255 stands for; Bm25 terms: 0. */
  scales: Float32Array;
  /** terms.length + 1 offsets into docIds / values. */
  termStart: Uint32Array;
  /** Segment-local doc ids, ascending within each term (16-bit when the segment has at most 65,536 docs). */
  docIds: Uint32Array | Uint16Array;
  values: Uint8Array;
  /** Lexical length (number of analyzer terms) per doc. */
  lengths: Uint32Array;
  chunks: ChunkMeta[];
}

/** Maps a weight in [0, scale] to 0–255, rounding to nearest. */
export function quantise(w: number, scale: number): number {
  if (!(scale > 0) || !(w > 0)) return 0;
  return Math.min(255, Math.round((w / scale) * 255));
}

class Growable<T extends Uint32Array | Float32Array> {
  length = 0;
  constructor(public data: T, private readonly make: (n: number) => T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export class SegmentBuffer {
  private readonly lexicalIds = new Map<string, number>();
  private latentIds = new Int32Array(1024).fill(-1);
  private readonly termNames: string[] = [];
  private readonly termKinds: number[] = [];
  private readonly postTerm = new Growable(new Uint32Array(1 << 16), (n) => new Uint32Array(n));
  private readonly postDoc = new Growable(new Uint32Array(1 << 16), (n) => new Uint32Array(n));
  private readonly postWeight = new Growable(new Float32Array(1 << 16), (n) => new Float32Array(n));
  private readonly lengths = new Growable(new Uint32Array(1024), (n) => new Uint32Array(n));
  readonly chunks: ChunkMeta[] = [];

  get docs(): number {
    return this.chunks.length;
  }

  get postings(): number {
    return this.postTerm.length;
  }

  private lexicalId(term: string): number {
    let id = this.lexicalIds.get(term);
    if (id === undefined) {
      id = this.termNames.length;
      this.lexicalIds.set(term, id);
      this.termNames.push(LEXICAL_PREFIX + term);
      this.termKinds.push(TermKind.Bm25);
    }
    return id;
  }

  private latentId(latent: number): number {
    if (latent >= this.latentIds.length) {
      const next = new Int32Array(Math.max(latent + 1, this.latentIds.length * 2)).fill(-1);
      next.set(this.latentIds);
      this.latentIds = next;
    }
    let id = this.latentIds[latent]!;
    if (id < 0) {
      id = this.termNames.length;
      this.latentIds[latent] = id;
      this.termNames.push(latentTerm(latent));
      this.termKinds.push(TermKind.Impact);
    }
    return id;
  }

  /** Adds a chunk; returns its segment-local doc id. */
  add(chunk: ChunkInput): number {
    const doc = this.chunks.length;
    const { lexical, latent, ...meta } = chunk;
    this.chunks.push(meta);
    if (lexical && lexical.length > 0) {
      const counts = new Map<string, number>();
      for (const t of lexical) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [t, tf] of counts) {
        this.postTerm.push(this.lexicalId(t));
        this.postDoc.push(doc);
        this.postWeight.push(tf);
      }
    }
    this.lengths.push(lexical?.length ?? 0);
    if (latent) {
      for (let i = 0; i < latent.ids.length; i++) {
        const w = latent.weights[i]!;
        if (!(w >= 0)) throw new RangeError(`latent ${latent.ids[i]} has weight ${w}; latent weights must be ≥ 0`);
        this.postTerm.push(this.latentId(latent.ids[i]!));
        this.postDoc.push(doc);
        this.postWeight.push(w);
      }
    }
    return doc;
  }

  /** The buffered chunks as one segment: terms sorted, postings grouped by term, weights quantised. */
  build(): SegmentData {
    const nTerms = this.termNames.length;
    const order = Array.from({ length: nTerms }, (_, i) => i).sort((a, b) => (this.termNames[a]! < this.termNames[b]! ? -1 : 1));
    const rank = new Uint32Array(nTerms);
    order.forEach((old, r) => (rank[old] = r));
    const n = this.postTerm.length;
    const termStart = new Uint32Array(nTerms + 1);
    const pt = this.postTerm.data, pd = this.postDoc.data, pw = this.postWeight.data;
    for (let i = 0; i < n; i++) termStart[rank[pt[i]!]! + 1]!++;
    for (let t = 0; t < nTerms; t++) termStart[t + 1]! += termStart[t]!;
    const scales = new Float32Array(nTerms);
    const kinds = new Uint8Array(nTerms);
    for (let old = 0; old < nTerms; old++) kinds[rank[old]!] = this.termKinds[old]!;
    for (let i = 0; i < n; i++) {
      const r = rank[pt[i]!]!;
      if (kinds[r] === TermKind.Impact && pw[i]! > scales[r]!) scales[r] = pw[i]!;
    }
    const fill = termStart.slice(0, nTerms);
    const docIds = new Uint32Array(n);
    const values = new Uint8Array(n);
    // Postings were added in doc order, and a counting sort is stable, so each term's docs stay ascending.
    for (let i = 0; i < n; i++) {
      const r = rank[pt[i]!]!;
      const at = fill[r]!++;
      docIds[at] = pd[i]!;
      values[at] = kinds[r] === TermKind.Impact ? quantise(pw[i]!, scales[r]!) : Math.min(255, pw[i]!);
    }
    return {
      docs: this.chunks.length,
      terms: order.map((o) => this.termNames[o]!),
      kinds,
      scales,
      termStart,
      docIds,
      values,
      lengths: this.lengths.data.slice(0, this.lengths.length),
      chunks: this.chunks,
    };
  }
}
