// Exact top-k over a snapshot of segments, for any mix of lexical (BM25) and latent (impact)
// terms. The default strategy is MaxScore (Turtle & Flood 1995) over windows of doc ids, as
// Lucene's MaxScoreBulkScorer does it: per window, each query term's bound is the largest
// block maximum it has there; terms whose bounds together cannot lift a chunk above the
// current k-th score are "non-essential"; the essential terms are added term-at-a-time into a
// window accumulator, and the non-essential ones are only looked up for chunks whose partial
// score plus the remaining bounds can still beat the k-th score. Nothing that could enter the
// top k is skipped, so results equal exhaustive scoring's (test/unit/index-search.test.ts
// checks this against a brute-force scorer). Why windows and term-at-a-time rather than
// classic document-at-a-time cursors: in JavaScript a per-document cursor step costs as much
// as adding ten postings to an array, and the document-at-a-time version measured 3–4× slower
// than exhaustive scoring on bench/index (docs/index-format.md).
//
// Ties rank the lower global doc number first, where a chunk's global number is its position
// in the snapshot (segments in manifest order). Chunks are visited in that order and one
// enters the heap only with a strictly higher score than the k-th, which gives that tie order
// for free.
import picomatch from "picomatch";
import { DEFAULT_BM25, type Bm25Params } from "../search/bm25.js";
import { fileKind, type FileKind } from "../file-types.js";
import type { Hit } from "../search/topk.js";
import { Bitmap } from "./bitmap.js";
import type { SegmentMeta } from "./meta.js";
import type { SegmentReader } from "./segment-reader.js";
import { BLOCK } from "./serializer.js";
import { TermKind, type ChunkMeta } from "./segment-writer.js";
import { LATENT_PREFIX, type QueryTerm } from "./terms.js";
import type { SparseVector } from "../sparse-vector.js";

export interface SegmentEntry {
  meta: SegmentMeta;
  reader: SegmentReader;
  deleted: Bitmap;
}

export interface Filter {
  /** Keep chunks whose path starts with this string. */
  pathPrefix?: string;
  /** Keep chunks whose path matches this glob, or any of these globs (picomatch syntax, `**` crosses folders). */
  pathGlob?: string | readonly string[];
  /** Drop chunks whose path matches any of these globs. */
  excludeGlob?: readonly string[];
  /** Keep chunks of these languages / file kinds. */
  languages?: readonly string[];
  /** Keep chunks under these workspace roots. */
  roots?: readonly string[];
  /** Keep chunks of these kinds (by the file's extension, as `fileKind` says). */
  kinds?: readonly FileKind[];
}

export interface SearchOptions {
  filter?: Filter;
  /** "maxscore" (default): pruned and exact; "exhaustive": every posting of every query term scored (for checks and benchmarks). */
  strategy?: "maxscore" | "exhaustive";
  /** BM25 parameters for lexical terms; default DEFAULT_BM25 (the in-memory scorer's). */
  bm25?: Bm25Params;
  /** Docs per scoring window of the pruned strategy; default WINDOW (64–16,384; tests use small ones to cross many windows). */
  window?: number;
}

/**
 * Docs per scoring window of the pruned strategy. Default 4,096 (as Lucene); 1,024–16,384 is
 * sensible: smaller windows have tighter bounds and skip more, larger ones amortise the per-window
 * work over more postings.
 */
export const WINDOW = 4096;

/**
 * Relative cost of looking a doc up in a posting list (block skip + binary search) against
 * adding one posting to the window accumulator, measured on bench/index: about 8. Range 1–64;
 * higher scores more terms in full.
 */
export const LOOKUP_COST = 8;

/** Every SAMPLE-th window slot is read to estimate how many lookups a term would need; default 16. */
const SAMPLE = 16;

/** Position of segment-local `doc` in term `o`'s posting list (binary search), or -1. */
function postingOf(r: SegmentReader, o: number, doc: number): number {
  let lo = r.termStart[o]!, hi = r.termStart[o + 1]!;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r.docIds[mid]! < doc) lo = mid + 1;
    else hi = mid;
  }
  return lo < r.termStart[o + 1]! && r.docIds[lo] === doc ? lo : -1;
}

/** Bounded min-heap of (score, global doc); see the header for the tie rule. */
class Heap {
  readonly docs: Float64Array;
  readonly scores: Float64Array;
  size = 0;
  constructor(readonly k: number) {
    this.docs = new Float64Array(k);
    this.scores = new Float64Array(k);
  }
  get threshold(): number {
    return this.size < this.k ? 0 : this.scores[0]!;
  }
  private worse(i: number, j: number): boolean {
    return this.scores[i]! < this.scores[j]! || (this.scores[i] === this.scores[j] && this.docs[i]! > this.docs[j]!);
  }
  private swap(i: number, j: number): void {
    const d = this.docs[i]!, s = this.scores[i]!;
    this.docs[i] = this.docs[j]!; this.scores[i] = this.scores[j]!;
    this.docs[j] = d; this.scores[j] = s;
  }
  /** Offers a chunk visited in ascending global order; only a score above the threshold enters. */
  offer(doc: number, score: number): void {
    if (score <= this.threshold) return;
    if (this.size < this.k) {
      this.docs[this.size] = doc; this.scores[this.size] = score;
      for (let i = this.size++; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!this.worse(i, p)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    this.docs[0] = doc; this.scores[0] = score;
    for (let i = 0; ; ) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < this.size && this.worse(l, m)) m = l;
      if (r < this.size && this.worse(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
  hits(): Hit[] {
    const out: Hit[] = [];
    for (let i = 0; i < this.size; i++) out.push({ doc: this.docs[i]!, score: this.scores[i]! });
    return out.sort((a, b) => b.score - a.score || a.doc - b.doc);
  }
}

/** One query term in one segment. */
interface Cursor {
  kind: number;
  /** Impact: weight × scale / 255; BM25: weight × idf. */
  coef: number;
  start: number;
  end: number;
  pos: number;
  block: number;
  blockEnd: number;
  firstBlock: number;
  ub: number;
}

/**
 * Adds term `c`'s postings in [winStart, winEnd) into the window accumulator and advances its
 * cursor. A module-level function with everything in parameters, not a closure over the
 * window's variables: in the closure V8 reloaded them from the context on every posting, which
 * made windowed scoring 30% slower than exhaustive scoring of the same postings.
 */
function scatterWindow(c: Cursor, ids: Uint32Array | Uint16Array, vals: Uint8Array, norm: Float64Array | null, k1p: number, acc: Float64Array, winStart: number, winEnd: number): void {
  let q = c.pos;
  const end = c.end;
  if (q < end && ids[q]! < winStart) {
    // Jump to the first block that reaches the window, then walk.
    const blockFirst = c.start + (c.block - c.firstBlock) * BLOCK;
    if (q < blockFirst) q = blockFirst;
    while (q < end && ids[q]! < winStart) q++;
  }
  const coef = c.coef;
  if (c.kind === TermKind.Impact) {
    for (; q < end; q++) {
      const d = ids[q]!;
      if (d >= winEnd) break;
      acc[d - winStart]! += coef * vals[q]!;
    }
  } else {
    for (; q < end; q++) {
      const d = ids[q]!;
      if (d >= winEnd) break;
      const tf = vals[q]!;
      acc[d - winStart]! += (coef * tf * k1p) / (tf + norm![d]!);
    }
  }
  c.pos = q;
}

export class Searcher {
  /** Global number of each segment's first chunk. */
  private readonly bases: number[] = [];
  readonly totalDocs: number;
  private readonly totalLength: number;
  private readonly aliveMasks = new Map<number, Uint8Array | null>();
  private readonly norms = new Map<string, Float64Array>();
  /** Scratch for the pruned strategy's window (reused across queries; searches are synchronous). */
  private window = new Float64Array(WINDOW);

  constructor(readonly segments: readonly SegmentEntry[]) {
    let docs = 0, length = 0;
    for (const s of segments) {
      this.bases.push(docs);
      docs += s.reader.docs;
      length += s.reader.totalLength;
    }
    this.totalDocs = docs;
    this.totalLength = length;
  }

  /** Live chunks in the snapshot. */
  get liveDocs(): number {
    let n = 0;
    for (const s of this.segments) n += s.reader.docs - s.deleted.size;
    return n;
  }

  /** The chunk behind a hit's global doc number. */
  chunk(doc: number): ChunkMeta {
    const [s, local] = this.locate(doc);
    return this.segments[s]!.reader.chunk(local);
  }

  locate(doc: number): [segment: number, local: number] {
    let lo = 0, hi = this.bases.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.bases[mid]! <= doc) lo = mid;
      else hi = mid - 1;
    }
    return [lo, doc - this.bases[lo]!];
  }

  /** Global numbers of the live chunks of `path`, ascending. */
  docsOfPath(path: string): number[] {
    const out: number[] = [];
    this.segments.forEach((e, s) => {
      for (const d of e.reader.docsOfPath(path).toUint32Array()) if (!e.deleted.has(d)) out.push(this.bases[s]! + d);
    });
    return out;
  }

  /** Global numbers of every live chunk (for oracles and tools; O(chunks)). */
  *liveDocNumbers(): Generator<number> {
    for (let s = 0; s < this.segments.length; s++) {
      const e = this.segments[s]!;
      for (let d = 0; d < e.reader.docs; d++) if (!e.deleted.has(d)) yield this.bases[s]! + d;
    }
  }

  /** BM25 idf as the in-memory scorer computes it: log(1 + (N − df + 0.5) / (df + 0.5)), N and df over the whole snapshot (deleted chunks included, as Lucene does until a merge drops them). */
  idf(term: string): number {
    let df = 0;
    for (const s of this.segments) {
      const o = s.reader.term(term);
      if (o >= 0) df += s.reader.termStart[o + 1]! - s.reader.termStart[o]!;
    }
    return Math.log(1 + (this.totalDocs - df + 0.5) / (df + 0.5));
  }

  /**
   * What each query term contributed to one chunk's score, as `search` computes it (terms the
   * chunk lacks are left out), best first. For explaining a hit: O(terms × log postings).
   */
  explain(query: readonly QueryTerm[], doc: number, bm25: Bm25Params = DEFAULT_BM25): Array<{ term: string; weight: number; value: number; contribution: number }> {
    const [s, local] = this.locate(doc);
    const r = this.segments[s]!.reader;
    const weights = new Map<string, number>();
    for (const q of query) if (q.weight > 0) weights.set(q.term, (weights.get(q.term) ?? 0) + q.weight);
    const out: Array<{ term: string; weight: number; value: number; contribution: number }> = [];
    for (const [term, weight] of weights) {
      const o = r.term(term);
      if (o < 0) continue;
      const at = postingOf(r, o, local);
      if (at < 0) continue;
      const v = r.values[at]!;
      let value: number, contribution: number;
      if (r.kinds[o] === TermKind.Impact) {
        value = (v * r.scales[o]!) / 255;
        contribution = weight * value;
      } else {
        value = v;
        contribution = (weight * this.idf(term) * v * (bm25.k1 + 1)) / (v + this.norm(s, bm25)[local]!);
      }
      out.push({ term, weight, value, contribution });
    }
    return out.sort((a, b) => b.contribution - a.contribution || (a.term < b.term ? -1 : 1));
  }

  /**
   * A chunk's latent vector read back from the postings (weights dequantised), strongest first:
   * lets the daemon reuse the vectors of unchanged chunks after a restart instead of encoding
   * them again. O(latent terms in the segment × log postings), about a millisecond.
   */
  latentVector(doc: number): SparseVector {
    const [s, local] = this.locate(doc);
    const r = this.segments[s]!.reader;
    let first = 0, hi = r.terms.length;
    while (first < hi) {
      const mid = (first + hi) >> 1;
      if (r.terms.get(mid) < LATENT_PREFIX) first = mid + 1;
      else hi = mid;
    }
    const pairs: Array<[number, number]> = [];
    for (let o = first; o < r.terms.length; o++) {
      const term = r.terms.get(o);
      if (!term.startsWith(LATENT_PREFIX)) break;
      const at = postingOf(r, o, local);
      if (at >= 0) pairs.push([Number(term.slice(LATENT_PREFIX.length)), (r.values[at]! * r.scales[o]!) / 255]);
    }
    pairs.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return { ids: Uint32Array.from(pairs, (p) => p[0]), weights: Float32Array.from(pairs, (p) => p[1]) };
  }

  private norm(s: number, p: Bm25Params): Float64Array {
    const key = `${s}/${p.k1}/${p.b}`;
    let n = this.norms.get(key);
    if (!n) {
      const lengths = this.segments[s]!.reader.lengths;
      const avg = this.totalLength / this.totalDocs || 1;
      n = new Float64Array(lengths.length);
      for (let d = 0; d < lengths.length; d++) n[d] = p.k1 * (1 - p.b + (p.b * lengths[d]!) / avg);
      this.norms.set(key, n);
    }
    return n;
  }

  private aliveMask(s: number): Uint8Array | null {
    if (!this.aliveMasks.has(s)) {
      const e = this.segments[s]!;
      let mask: Uint8Array | null = null;
      if (e.deleted.size > 0) {
        mask = new Uint8Array(e.reader.docs).fill(1);
        for (const d of e.deleted.toUint32Array()) mask[d] = 0;
      }
      this.aliveMasks.set(s, mask);
    }
    return this.aliveMasks.get(s)!;
  }

  /** Allowed docs of segment `s` as a byte mask (1 = live and passes the filter), or null for all. */
  private mask(s: number, filter: Filter | undefined): Uint8Array | null {
    if (!filter || (!filter.pathPrefix && !filter.pathGlob && !filter.excludeGlob?.length && !filter.languages && !filter.roots && !filter.kinds)) return this.aliveMask(s);
    const e = this.segments[s]!;
    const parts: Bitmap[] = [];
    if (filter.excludeGlob?.length) { const m = picomatch([...filter.excludeGlob], { dot: true }); parts.push(e.reader.select("path", (v) => !m(v))); }
    if (filter.pathPrefix !== undefined) { const p = filter.pathPrefix; parts.push(e.reader.select("path", (v) => v.startsWith(p))); }
    if (filter.pathGlob !== undefined) { const m = picomatch(typeof filter.pathGlob === "string" ? filter.pathGlob : [...filter.pathGlob], { dot: true }); parts.push(e.reader.select("path", (v) => m(v))); }
    if (filter.languages) { const set = new Set(filter.languages); parts.push(e.reader.select("language", (v) => set.has(v))); }
    if (filter.roots) { const set = new Set(filter.roots); parts.push(e.reader.select("root", (v) => set.has(v))); }
    if (filter.kinds) { const set = new Set(filter.kinds); parts.push(e.reader.select("path", (v) => set.has(fileKind(v)))); }
    let allowed = parts[0]!.clone();
    for (const p of parts.slice(1)) allowed.andInPlace(p);
    allowed = Bitmap.andNot(allowed, e.deleted);
    const mask = new Uint8Array(e.reader.docs);
    for (const d of allowed.toUint32Array()) mask[d] = 1;
    return mask;
  }

  /** The k best live chunks for `query`, best first; `doc` is the global chunk number (see `chunk`). */
  search(query: readonly QueryTerm[], k: number, options: SearchOptions = {}): Hit[] {
    if (k <= 0 || this.totalDocs === 0) return [];
    const bm25 = options.bm25 ?? DEFAULT_BM25;
    const heap = new Heap(k);
    // Merge repeated terms, and compute each BM25 term's idf once over the snapshot.
    const weights = new Map<string, number>();
    for (const q of query) if (q.weight > 0) weights.set(q.term, (weights.get(q.term) ?? 0) + q.weight);
    const idfs = new Map<string, number>();
    for (let s = 0; s < this.segments.length; s++) {
      const r = this.segments[s]!.reader;
      const cursors: Cursor[] = [];
      for (const [term, weight] of weights) {
        const o = r.term(term);
        if (o < 0 || r.termStart[o + 1] === r.termStart[o]) continue;
        const kind = r.kinds[o]!;
        let coef: number, ub: number;
        if (kind === TermKind.Impact) {
          coef = (weight * r.scales[o]!) / 255;
          ub = coef * r.termMax[o]!;
        } else {
          if (!idfs.has(term)) idfs.set(term, this.idf(term));
          coef = weight * idfs.get(term)!;
          const tf = r.termMax[o]!;
          const avg = this.totalLength / this.totalDocs || 1;
          ub = (coef * tf * (bm25.k1 + 1)) / (tf + bm25.k1 * (1 - bm25.b + (bm25.b * r.termMinLen[o]!) / avg));
        }
        cursors.push({
          kind, coef, ub,
          start: r.termStart[o]!, end: r.termStart[o + 1]!, pos: r.termStart[o]!,
          firstBlock: r.blockStart[o]!, block: r.blockStart[o]!, blockEnd: r.blockStart[o + 1]!,
        });
      }
      if (cursors.length === 0) continue;
      const mask = this.mask(s, options.filter);
      const norm = cursors.some((c) => c.kind === TermKind.Bm25) ? this.norm(s, bm25) : null;
      if (options.strategy === "exhaustive") this.exhaustive(r, cursors, mask, norm, bm25, this.bases[s]!, heap);
      else this.maxScore(r, cursors, mask, norm, bm25, this.bases[s]!, heap, options.window ?? WINDOW);
    }
    return heap.hits();
  }

  /** Term-at-a-time: every posting into an accumulator, then every chunk with a positive score offered in order. */
  private exhaustive(r: SegmentReader, cursors: Cursor[], mask: Uint8Array | null, norm: Float64Array | null, p: Bm25Params, base: number, heap: Heap): void {
    const acc = new Float64Array(r.docs);
    const ids = r.docIds, vals = r.values, k1p = p.k1 + 1;
    for (const c of cursors) {
      if (c.kind === TermKind.Impact) {
        for (let i = c.start; i < c.end; i++) { const d = ids[i]!; acc[d]! += c.coef * vals[i]!; }
      } else {
        for (let i = c.start; i < c.end; i++) { const d = ids[i]!; const tf = vals[i]!; acc[d]! += (c.coef * tf * k1p) / (tf + norm![d]!); }
      }
    }
    for (let d = 0; d < r.docs; d++) if (acc[d]! > 0 && (!mask || mask[d])) heap.offer(base + d, acc[d]!);
  }

  /**
   * MaxScore over windows of WINDOW docs, the way Lucene's MaxScoreBulkScorer does it: per
   * window, each term's bound is the largest block maximum overlapping the window (tighter
   * than its global maximum); terms are split into essential and non-essential by those
   * bounds; a window whose bounds sum to no more than the k-th score is skipped whole;
   * essential terms are scored term-at-a-time into a window-sized accumulator (tight loops,
   * no per-doc cursor juggling); non-essential terms are looked up only for candidates whose
   * partial score plus the remaining bounds can still beat the k-th score.
   */
  private maxScore(r: SegmentReader, cs: Cursor[], mask: Uint8Array | null, norm: Float64Array | null, p: Bm25Params, base: number, heap: Heap, windowSize: number): void {
    if (this.window.length < windowSize) {
      this.window = new Float64Array(windowSize);
    }
    const n = cs.length;
    const ids = r.docIds, vals = r.values, blockLast = r.blockLast, blockMax = r.blockMax, blockMinLen = r.blockMinLen;
    const k1p = p.k1 + 1;
    const avg = this.totalLength / this.totalDocs || 1;
    const acc = this.window;
    const order: Cursor[] = cs.slice();
    const bound = new Float64Array(n);
    const windowPostings = new Float64Array(n);
    const rank = Array.from({ length: n }, (_, i) => i);
    const wub = new Float64Array(n);
    const prefix = new Float64Array(n);
    let theta = heap.threshold;
    for (let winStart = 0; winStart < r.docs; winStart += windowSize) {
      const winEnd = Math.min(r.docs, winStart + windowSize);
      // Window bounds from block maxima: skip blocks that end before the window, then take
      // the max over blocks that start inside it.
      let total = 0;
      for (let t = 0; t < n; t++) {
        const c = cs[t]!;
        while (c.block < c.blockEnd && blockLast[c.block]! < winStart) c.block++;
        let m = 0, minLen = 0xffffffff, blocks = 0;
        for (let b = c.block; b < c.blockEnd; b++, blocks++) {
          if (ids[c.start + (b - c.firstBlock) * BLOCK]! >= winEnd) break;
          if (blockMax[b]! > m) m = blockMax[b]!;
          if (blockMinLen[b]! < minLen) minLen = blockMinLen[b]!;
        }
        const v = m === 0 ? 0 : c.kind === TermKind.Impact ? c.coef * m : (c.coef * m * k1p) / (m + p.k1 * (1 - p.b + (p.b * minLen) / avg));
        bound[t] = v;
        windowPostings[t] = blocks * BLOCK;
        total += v;
      }
      if (total <= theta) continue;
      rank.sort((a, b) => bound[a]! - bound[b]!);
      for (let i = 0, sum = 0; i < n; i++) {
        order[i] = cs[rank[i]!]!;
        wub[i] = bound[rank[i]!]!;
        prefix[i] = sum += wub[i]!;
      }
      let firstEssential = 0;
      while (firstEssential < n && prefix[firstEssential]! <= theta) firstEssential++;
      // Essential terms, term-at-a-time into the window accumulator.
      const scatter = (c: Cursor): void => scatterWindow(c, ids, vals, norm, k1p, acc, winStart, winEnd);
      let any = false;
      for (let i = firstEssential; i < n; i++) {
        if (wub[i] === 0) continue;
        scatter(order[i]!);
        any = true;
      }
      if (!any) continue;
      // Looking a doc up in a list costs about LOOKUP_COST times adding a posting. The next
      // non-essential term would be looked up for every candidate whose partial score is above
      // theta − prefix; when that is more lookups (estimated on every SAMPLE-th slot) than the
      // term has postings in the window / LOOKUP_COST, score it in full instead. The split stays
      // contiguous, so the prefix bounds still hold for the terms left to look up.
      const span = winEnd - winStart;
      while (firstEssential > 0) {
        const t = firstEssential - 1;
        const need = theta - prefix[t]!;
        let pass = 0;
        for (let w = 0; w < span; w += SAMPLE) if (acc[w]! > need) pass++;
        if (windowPostings[rank[t]!]! >= pass * SAMPLE * LOOKUP_COST) break;
        scatter(order[t]!);
        firstEssential--;
      }
      // No contribution is negative (query weights > 0, impacts ≥ 0, idf > 0), so a slot still
      // at 0 got nothing from the essential terms, and the non-essential bounds (≤ θ) cannot
      // lift it above θ: the accumulator doubles as the set of candidates (a separate touched
      // byte per posting cost 18 % on bench/index).
      for (let w = 0; w < winEnd - winStart; w++) {
        let score = acc[w]!;
        if (score === 0) continue;
        acc[w] = 0;
        const doc = winStart + w;
        if (mask && !mask[doc]) continue;
        let pruned = false;
        for (let i = firstEssential - 1; i >= 0; i--) {
          if (score + prefix[i]! <= theta) { pruned = true; break; }
          const c = order[i]!;
          let q = c.pos;
          if (q < c.end && ids[q]! < doc) {
            while (c.block < c.blockEnd && blockLast[c.block]! < doc) c.block++;
            if (c.block >= c.blockEnd) { c.pos = c.end; continue; }
            // Binary search inside the block: its last doc is ≥ doc, so the answer is in it.
            let lo = Math.max(q, c.start + (c.block - c.firstBlock) * BLOCK);
            let hi = Math.min(c.end - 1, c.start + (c.block - c.firstBlock + 1) * BLOCK - 1);
            while (lo < hi) {
              const mid = (lo + hi) >> 1;
              if (ids[mid]! < doc) lo = mid + 1;
              else hi = mid;
            }
            q = lo;
            c.pos = q;
          }
          if (q < c.end && ids[q] === doc) {
            const v = vals[q]!;
            score += c.kind === TermKind.Impact ? c.coef * v : (c.coef * v * k1p) / (v + norm![doc]!);
          }
        }
        if (pruned || score <= theta) continue;
        heap.offer(base + doc, score);
        theta = heap.threshold;
      }
    }
  }
}
