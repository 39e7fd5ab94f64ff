// Merging segments: the live chunks of several segments, in order, become one new segment.
// Deleted chunks are dropped here and nowhere else. Impact values are re-quantised only when
// the merged term's scale is larger than the source's (a term's scale is its largest weight in
// the segment), so a value survives any number of merges unchanged while its term's maximum
// does not move.
import type { Bitmap } from "./bitmap.js";
import type { SegmentReader } from "./segment-reader.js";
import { quantise, TermKind, type ChunkMeta, type SegmentData } from "./segment-writer.js";

export interface MergeSource {
  reader: SegmentReader;
  deleted: Bitmap;
}

export function mergeSegments(sources: readonly MergeSource[]): SegmentData {
  const remaps: Int32Array[] = [];
  const chunks: ChunkMeta[] = [];
  const lengthList: number[] = [];
  let postingsBound = 0;
  for (const { reader, deleted } of sources) {
    const remap = new Int32Array(reader.docs);
    for (let d = 0; d < reader.docs; d++) {
      if (deleted.has(d)) remap[d] = -1;
      else {
        remap[d] = chunks.length;
        chunks.push(reader.chunk(d));
        lengthList.push(reader.lengths[d]!);
      }
    }
    remaps.push(remap);
    postingsBound += reader.docIds.length;
  }
  const all = new Set<string>();
  for (const { reader } of sources) for (let t = 0; t < reader.terms.length; t++) all.add(reader.terms.get(t));
  const terms = [...all].sort();
  const kinds = new Uint8Array(terms.length);
  const scales = new Float32Array(terms.length);
  const termStart = new Uint32Array(terms.length + 1);
  const docIds = new Uint32Array(postingsBound);
  const values = new Uint8Array(postingsBound);
  let n = 0;
  const ords = sources.map(({ reader }) => terms.map((t) => reader.term(t)));
  terms.forEach((_, t) => {
    let scale = 0;
    sources.forEach(({ reader }, s) => {
      const o = ords[s]![t]!;
      if (o < 0) return;
      kinds[t] = reader.kinds[o]!;
      if (reader.scales[o]! > scale) scale = reader.scales[o]!;
    });
    scales[t] = scale;
    sources.forEach(({ reader }, s) => {
      const o = ords[s]![t]!;
      if (o < 0) return;
      const remap = remaps[s]!;
      const from = reader.scales[o]!;
      const requantise = kinds[t] === TermKind.Impact && from !== scale;
      for (let p = reader.termStart[o]!, end = reader.termStart[o + 1]!; p < end; p++) {
        const d = remap[reader.docIds[p]!]!;
        if (d < 0) continue;
        docIds[n] = d;
        values[n++] = requantise ? quantise((reader.values[p]! / 255) * from, scale) : reader.values[p]!;
      }
    });
    termStart[t + 1] = n;
  });
  // Terms whose every posting was deleted stay in the dictionary with no postings; harmless, and
  // dropping them would need a second pass.
  return { docs: chunks.length, terms, kinds, scales, termStart, docIds: docIds.slice(0, n), values: values.slice(0, n), lengths: Uint32Array.from(lengthList), chunks };
}
