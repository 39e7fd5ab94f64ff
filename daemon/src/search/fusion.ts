// Fusing the lexical and latent channels into one ranking. Two standard choices, both exposed
// so `loupe eval` can measure them side by side; the default is the one measured best
// (docs/quality.md).
import type { FileKind } from "../file-types.js";
import type { Hit } from "./topk.js";

export type FusionKind = "rrf" | "wsum";

export interface FusionOptions {
  kind: FusionKind;
  /** wsum: weight of the lexical channel in [0, 1]; the latent channel gets 1 − alpha. */
  alpha: number;
  /** wsum: the lexical weight for documents that are source code; default `alpha`. */
  alphaCode?: number;
  /** rrf: the rank offset k in 1 / (k + rank); default 60 (Cormack et al.). */
  rrfK: number;
  /** How many hits of each channel take part; default 1000. */
  depth: number;
}

/** What one query adds to the fusion options. */
export interface QueryFusion {
  /**
   * How far the latent channel is trusted for this query, in [0, 1] (default 1): the share of the
   * query's letters the encoder can read (analysis/scripts.ts `readableShare`). Below 1, each
   * document's latent score is blended toward its lexical one, so for a query the encoder cannot
   * read at all the fused ranking is the lexical ranking. Chosen on whole sets
   * (docs/quality.md): among trusting by the query's readability, by the document's, by both,
   * and by the lower of the two, the query's alone lost least where the channel cannot help
   * (zh-zh, el-el) and gained most where it can (the X→en pairs). (That was before chunks
   * recorded how they were read; the chunk's side is now `documentTrust`, see chunkTrust.)
   */
  latentTrust?: number;
  /**
   * How far the latent channel is trusted for one document of this query's results, in [0, 1]
   * (default 1; search gives `chunkTrust`); multiplies `latentTrust`.
   */
  documentTrust?: (doc: number) => number;
}

/** How the latent channel read a chunk, as the index records it (index/segment-writer.ts ChunkMeta). */
export interface ChunkReading {
  /** The language the encoder read the chunk's English gloss from; absent when it read the text as written. */
  glossedFrom?: string;
  /** The share of the chunk's letters in scripts the encoder reads; absent means 1. */
  readable?: number;
}

/**
 * How far fusion trusts one chunk's latent vector for a question, from how each was read
 * (analysis/bridge.ts `chunkReading`, `questionGlossedFrom`):
 * - a note read in translation from the language the question was also translated from: 0.
 *   Both vectors then come from word-by-word English glosses of one language, and the lexical
 *   channel already matches the two texts as written (words and stems); over the eight bridged
 *   xquad-r mono pairs those gloss-to-gloss products moved hybrid between −0.0022 (es-es) and
 *   +0.0044 (de-de) against lexical, so the channel is left out there and hybrid equals lexical;
 * - any other note read in translation: 1 (English questions find German notes through them);
 * - a chunk read as written, for a question read in translation: the share of the chunk's
 *   letters in scripts the encoder reads (a Chinese note the language detector missed is noise
 *   next to the question's English gloss; the words both share are in the lexical channel);
 * - a chunk read as written, for a question read as asked: 1. An English question still finds
 *   notes in a script the encoder cannot read by the names and numbers in them (measured
 *   without the bridge: trusting such notes by their readable share cost en→zh 0.033, en→hi
 *   0.026, en→ar 0.018, en→ru 0.017 nDCG@10).
 * Chosen on whole sets (docs/quality.md, "Trust per chunk").
 */
export function chunkTrust(chunk: ChunkReading, questionGlossedFrom: string | undefined): number {
  if (chunk.glossedFrom !== undefined) return chunk.glossedFrom === questionGlossedFrom ? 0 : 1;
  return questionGlossedFrom !== undefined ? (chunk.readable ?? 1) : 1;
}

// Chosen with bench/src/fusion.ts on whole sets (bench/results/fusion.json, docs/quality.md),
// with the retrieval-trained head and 64 latents per query. The weighted sum beats
// RRF on every set (RRF weighs the two lists alike, and the latent channel is still far weaker
// than BM25). The best lexical weight depends on the content: on code (cosqa-dev) α 0.6 (0.379;
// lexical alone 0.358), on prose the mean over vaswani, xquad-r en-en, zh-zh and de-en peaks at
// α 0.7 (0.714; lexical alone 0.707). Earlier, with the reconstruction-only SAE, nothing below
// α 0.95 paid.
export const DEFAULT_FUSION: FusionOptions = { kind: "wsum", alpha: 0.7, alphaCode: 0.6, rrfK: 60, depth: 1000 };

/**
 * Combines two best-first hit lists. `wsum` divides each channel's scores by that channel's
 * top score for the query (so both lie in [0, 1]) and adds them with weights alpha and
 * 1 − alpha, where alpha is `alphaCode` for documents `kindOf` calls code; `rrf` adds
 * reciprocal ranks. Ties break by document number.
 */
export function fuse(
  lexical: Hit[],
  latent: Hit[],
  k: number,
  o: FusionOptions = DEFAULT_FUSION,
  kindOf?: (doc: number) => FileKind,
  /** Documents whose latent vector is not computed yet: ranked by their lexical score alone, as if the latent channel agreed, rather than as if it had found nothing. */
  latentMissing?: (doc: number) => boolean,
  query: QueryFusion = {},
): Hit[] {
  const trust = Math.min(Math.max(query.latentTrust ?? 1, 0), 1);
  const parts = new Map<number, [number, number]>();
  const add = (hits: Hit[], channel: 0 | 1) => {
    const list = hits.slice(0, o.depth);
    const top = list[0]?.score ?? 0;
    list.forEach((h, rank) => {
      const s = o.kind === "rrf" ? 1 / (o.rrfK + rank + 1) : top > 0 ? h.score / top : 0;
      const p = parts.get(h.doc) ?? [0, 0];
      p[channel] += s;
      parts.set(h.doc, p);
    });
  };
  add(lexical, 0);
  add(latent, 1);
  const alphaOf = (doc: number) => (kindOf?.(doc) === "code" ? (o.alphaCode ?? o.alpha) : o.alpha);
  const combine = (doc: number, lex: number, lat: number) => {
    if (latentMissing?.(doc)) lat = lex;
    const t = query.documentTrust ? trust * Math.min(Math.max(query.documentTrust(doc), 0), 1) : trust;
    lat = t * lat + (1 - t) * lex;
    if (o.kind === "rrf") return lex + lat;
    const a = alphaOf(doc);
    return a * lex + (1 - a) * lat;
  };
  return [...parts]
    .map(([doc, [lex, lat]]) => ({ doc, score: combine(doc, lex, lat) }))
    .sort((a, b) => b.score - a.score || a.doc - b.doc)
    .slice(0, k);
}
