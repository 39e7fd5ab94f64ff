// Helpers for index tests: random chunks and a brute-force scorer that reads every live chunk's
// stored values one by one (no postings order, no bounds, no pruning).
import { DEFAULT_BM25 } from "../../daemon/src/search/bm25.js";
import type { Hit } from "../../daemon/src/search/topk.js";
import type { ChunkInput } from "../../daemon/src/index/segment-writer.js";
import type { Searcher } from "../../daemon/src/index/searcher.js";
import type { QueryTerm } from "../../daemon/src/index/terms.js";

export { rng } from "../../bench/src/common.js";

const WORDS = ["fetch", "user", "retry", "backoff", "parse", "json", "index", "segment", "query", "merge", "alpha", "beta"];

/** A random chunk: a few latents from a small space (so lists overlap) and a few words. */
export function randomChunk(random: () => number, n: number, opts: { latents?: number; space?: number } = {}): ChunkInput {
  const space = opts.space ?? 40;
  const m = new Map<number, number>();
  const count = 1 + Math.floor(random() * (opts.latents ?? 12));
  // Skewed: low latent ids are common, as real SAE latents are.
  while (m.size < Math.min(count, space)) m.set(Math.floor(space * random() * random()), Math.fround(random() * 3));
  const ids = [...m.keys()].sort((a, b) => a - b);
  const words = Array.from({ length: Math.floor(random() * 8) }, () => WORDS[Math.floor(WORDS.length * random() * random())]!);
  const folder = ["src", "src/net", "docs", "test"][Math.floor(random() * 4)]!;
  return {
    path: `${folder}/f${n % 17}.${folder === "docs" ? "md" : "ts"}`,
    startLine: 1 + n,
    endLine: 2 + n,
    symbol: `s${n}`,
    hash: `h${n}`,
    ...(n % 7 === 0 ? { startCol: n, endCol: n + 5 } : {}), // a piece of one long line now and then
    root: n % 3 === 0 ? "/b" : "/a",
    language: folder === "docs" ? "markdown" : "typescript",
    lexical: words,
    latent: { ids: Uint32Array.from(ids), weights: Float32Array.from(ids.map((i) => m.get(i)!)) },
  };
}

export function randomQuery(random: () => number, opts: { latents?: number; words?: number; space?: number } = {}): QueryTerm[] {
  const out: QueryTerm[] = [];
  const space = opts.space ?? 40;
  for (let i = 0; i < (opts.latents ?? 5); i++) out.push({ term: `z:${Math.floor(space * random() * random())}`, weight: Math.fround(random() * 2) });
  for (let i = 0; i < (opts.words ?? 2); i++) out.push({ term: `w:${WORDS[Math.floor(WORDS.length * random())]!}`, weight: 1 });
  return out;
}

/** Every live chunk scored from its stored values, one query term at a time; top k by the same tie rule. */
export function bruteForce(searcher: Searcher, query: readonly QueryTerm[], k: number, filter?: (doc: number) => boolean): Hit[] {
  const weights = new Map<string, number>();
  for (const q of query) if (q.weight > 0) weights.set(q.term, (weights.get(q.term) ?? 0) + q.weight);
  const { k1, b } = DEFAULT_BM25;
  let totalLength = 0;
  for (const e of searcher.segments) for (const l of e.reader.lengths) totalLength += l;
  const avg = totalLength / searcher.totalDocs || 1;
  const hits: Hit[] = [];
  for (const doc of searcher.liveDocNumbers()) {
    if (filter && !filter(doc)) continue;
    const [s, local] = searcher.locate(doc);
    const r = searcher.segments[s]!.reader;
    let score = 0;
    for (const [term, w] of weights) {
      const o = r.term(term);
      if (o < 0) continue;
      for (let p = r.termStart[o]!; p < r.termStart[o + 1]!; p++) {
        if (r.docIds[p] !== local) continue;
        const v = r.values[p]!;
        if (term.startsWith("z:")) score += (w * r.scales[o]! * v) / 255;
        else score += (w * searcher.idf(term) * v * (k1 + 1)) / (v + k1 * (1 - b + (b * r.lengths[local]!) / avg));
      }
    }
    if (score > 0) hits.push({ doc, score });
  }
  return hits.sort((a, b) => b.score - a.score || a.doc - b.doc).slice(0, k);
}

/**
 * Asserts two top-k lists agree: the same score at every rank (to 1e-9 relative, as floating
 * sums in another order may differ in the last bits) and the same chunks, except that chunks
 * whose scores tie within that tolerance may swap.
 */
export function sameTopK(actual: Hit[], expected: Hit[]): string | null {
  if (actual.length !== expected.length) return `${actual.length} hits, expected ${expected.length}`;
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  for (let i = 0; i < actual.length; i++) {
    if (!close(actual[i]!.score, expected[i]!.score)) return `rank ${i}: score ${actual[i]!.score}, expected ${expected[i]!.score}`;
    if (actual[i]!.doc !== expected[i]!.doc) {
      const tied = expected.filter((h) => close(h.score, expected[i]!.score)).map((h) => h.doc);
      const boundary = close(expected[i]!.score, expected[expected.length - 1]!.score);
      if (!tied.includes(actual[i]!.doc) && !boundary) return `rank ${i}: doc ${actual[i]!.doc}, expected ${expected[i]!.doc}`;
    }
  }
  return null;
}
