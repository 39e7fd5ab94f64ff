// SegmentData → the bytes of a segment's two files. The postings file holds the term dictionary,
// the postings (doc ids as varint gaps per term, see doc-ids.ts; values as u8) cut into blocks of BLOCK postings with each
// block's last doc id and maximum value (block-max skipping), and per-doc lexical lengths. The
// store file holds the chunk store (where each chunk is and its hash, never its text: snippets
// are read from the files) and, for filters, one roaring bitmap of doc ids per distinct
// path, root and language; from format 4 also how each chunk's latent vector was read (the
// language its gloss was translated from, as a facet, and the readable share of its text).
import { Bitmap } from "./bitmap.js";
import { encodeDocIds } from "./doc-ids.js";
import { PayloadWriter, seal } from "./format.js";
import { TermKind, type SegmentData } from "./segment-writer.js";

/**
 * Postings per block. Each block costs 9 bytes (last doc, max value, min length) and bounds a
 * term's score within it. Default 128; 64–256 is sensible: smaller blocks bound tighter, larger
 * ones skip with less bookkeeping.
 */
export const BLOCK = 128;

/** Readers of segments with at most this many docs hold doc ids in 16 bits (2 bytes a posting instead of 4). */
export const DOC_ID_U16_LIMIT = 65_536;

export function serializePostings(s: SegmentData): Uint8Array[] {
  const nTerms = s.terms.length;
  const blockStart = new Uint32Array(nTerms + 1);
  for (let t = 0; t < nTerms; t++) blockStart[t + 1] = blockStart[t]! + Math.ceil((s.termStart[t + 1]! - s.termStart[t]!) / BLOCK);
  const nBlocks = blockStart[nTerms]!;
  const blockLast = new Uint32Array(nBlocks);
  const blockMax = new Uint8Array(nBlocks);
  const blockMinLen = new Uint32Array(nBlocks);
  const termMax = new Uint8Array(nTerms);
  const termMinLen = new Uint32Array(nTerms);
  for (let t = 0; t < nTerms; t++) {
    const end = s.termStart[t + 1]!;
    let tMax = 0, tMin = 0xffffffff;
    for (let b = blockStart[t]!, p = s.termStart[t]!; p < end; b++) {
      const stop = Math.min(end, p + BLOCK);
      let max = 0, minLen = 0xffffffff;
      for (; p < stop; p++) {
        if (s.values[p]! > max) max = s.values[p]!;
        if (s.kinds[t] === TermKind.Bm25) {
          const len = s.lengths[s.docIds[p]!]!;
          if (len < minLen) minLen = len;
        }
      }
      blockLast[b] = s.docIds[stop - 1]!;
      blockMax[b] = max;
      blockMinLen[b] = s.kinds[t] === TermKind.Bm25 ? minLen : 0;
      if (max > tMax) tMax = max;
      if (blockMinLen[b]! < tMin) tMin = blockMinLen[b]!;
    }
    termMax[t] = tMax;
    termMinLen[t] = end > s.termStart[t]! ? tMin : 0;
  }
  const narrow = s.docs <= DOC_ID_U16_LIMIT;
  const w = new PayloadWriter()
    .json({ docs: s.docs, terms: nTerms, postings: s.docIds.length, block: BLOCK, docIdBytes: narrow ? 2 : 4 })
    .strings(s.terms)
    .array(s.kinds)
    .array(s.scales)
    .array(s.termStart)
    .bytes(encodeDocIds(s.docIds, s.termStart, nTerms))
    .array(s.values)
    .array(s.lengths)
    .array(blockStart)
    .array(blockLast)
    .array(blockMax)
    .array(blockMinLen)
    .array(termMax)
    .array(termMinLen);
  return [seal("POST", w.finish())];
}

/** Distinct values (sorted), each doc's index into them, and one serialized bitmap per value. */
function facet(values: readonly string[]): { names: string[]; index: Uint32Array; bitmaps: Buffer; offsets: Uint32Array } {
  const names = [...new Set(values)].sort();
  const ids = new Map(names.map((n, i) => [n, i]));
  const index = new Uint32Array(values.length);
  const members: number[][] = names.map(() => []);
  values.forEach((v, doc) => {
    const i = ids.get(v)!;
    index[doc] = i;
    members[i]!.push(doc);
  });
  const blobs = members.map((m) => new Bitmap(m).serialize("portable"));
  const offsets = new Uint32Array(names.length + 1);
  blobs.forEach((b, i) => (offsets[i + 1] = offsets[i]! + b.length));
  return { names, index, bitmaps: Buffer.concat(blobs), offsets };
}

/** A chunk's readable share as stored: 0–255 (absent = 255, fully readable). */
function readableByte(share: number | undefined): number {
  return share === undefined ? 255 : Math.min(255, Math.max(0, Math.round(share * 255)));
}

export function serializeStore(s: SegmentData): Uint8Array[] {
  const c = s.chunks;
  const w = new PayloadWriter()
    .json({ docs: s.docs })
    .array(Int32Array.from(c, (x) => x.startLine))
    .array(Int32Array.from(c, (x) => x.endLine))
    .array(Int32Array.from(c, (x) => x.startCol ?? -1))
    .array(Int32Array.from(c, (x) => x.endCol ?? -1));
  for (const f of [facet(c.map((x) => x.path)), facet(c.map((x) => x.root)), facet(c.map((x) => x.language))]) {
    w.strings(f.names).array(f.index).array(f.offsets).bytes(f.bitmaps);
  }
  w.strings(c.map((x) => x.symbol)).strings(c.map((x) => x.hash));
  // Format 4: how each chunk's latent vector was read (segment-writer.ts ChunkMeta).
  const glossed = facet(c.map((x) => x.glossedFrom ?? ""));
  w.strings(glossed.names).array(glossed.index).array(glossed.offsets).bytes(glossed.bitmaps);
  w.array(Uint8Array.from(c, (x) => readableByte(x.readable)));
  return [seal("STOR", w.finish())];
}

export function serializeDeletes(docs: number, deleted: Bitmap): Uint8Array[] {
  return [seal("DELS", new PayloadWriter().json({ docs, deleted: deleted.size }).bytes(deleted.serialize("portable")).finish())];
}
