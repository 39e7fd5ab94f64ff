// What Loupe sends an OpenSearch cluster, as pure functions (golden-tested against
// OpenSearch's documented request shapes in test/unit/opensearch-format.test.ts):
// - the index: one document per chunk: where it is (root, path, lines, ordinal), what it is
//   (symbol, language, kind, content hash), its text (kept for snippets, not indexed), its
//   lexical terms as Loupe's analyzer wrote them (a whitespace-analysed `terms` field, BM25 with
//   Loupe's k1/b), and its latents as a `rank_features` field (latent id → weight), which a
//   `neural_sparse` query with raw `query_tokens` scores by dot product; optionally also a
//   `sparse_vector` field for approximate search (seismic, OpenSearch 3.3+). The pack's
//   fingerprint and the analyzer version are in the mapping's `_meta`.
// - `_bulk` bodies (NDJSON), the queries (BM25 and neural_sparse, each with the same filters)
//   and `_msearch` bodies that send both channels in one request.
import { createHash } from "node:crypto";

/**
 * Bumped when the mapping or the document shape changes (an index of another format is refused).
 * 2: `glossed_from` and `readable`, how the latent channel read each chunk (fusion's trust per chunk).
 */
export const OPENSEARCH_FORMAT = 2;
/** Loupe's BM25 constants (search/bm25.ts), set as the `terms` field's similarity. */
export const BM25 = { k1: 0.9, b: 0.6 } as const;

export interface IndexSettings {
  /** The pack whose latents the index holds ("sha256:…"). */
  pack: string;
  packName: string;
  analyzer: number;
  shards?: number;
  replicas?: number;
  /** Also map latents as a `sparse_vector` with the seismic method (approximate search; OpenSearch ≥ 3.3). */
  seismic?: boolean;
}

export interface LoupeIndexMeta {
  format: number;
  pack: string;
  packName: string;
  analyzer: number;
}

/** The body of `PUT /<index>`: settings and mappings. */
export function indexBody(s: IndexSettings): Record<string, unknown> {
  const meta: LoupeIndexMeta = { format: OPENSEARCH_FORMAT, pack: s.pack, packName: s.packName, analyzer: s.analyzer };
  return {
    settings: {
      index: {
        number_of_shards: s.shards ?? 1,
        number_of_replicas: s.replicas ?? 1,
        ...(s.seismic ? { sparse: true } : {}),
        similarity: { loupe_bm25: { type: "BM25", k1: BM25.k1, b: BM25.b } },
      },
      analysis: { analyzer: { loupe_terms: { type: "custom", tokenizer: "whitespace" } } },
    },
    mappings: {
      dynamic: "strict",
      _meta: { loupe: meta },
      properties: {
        root: { type: "keyword" },
        path: { type: "keyword" },
        ordinal: { type: "integer" },
        start_line: { type: "integer" },
        end_line: { type: "integer" },
        start_col: { type: "integer" },
        end_col: { type: "integer" },
        symbol: { type: "keyword" },
        language: { type: "keyword" },
        kind: { type: "keyword" },
        hash: { type: "keyword" },
        file_hash: { type: "keyword" },
        glossed_from: { type: "keyword" },
        readable: { type: "float", index: false },
        text: { type: "text", index: false },
        terms: { type: "text", analyzer: "loupe_terms", similarity: "loupe_bm25" },
        latents: { type: "rank_features" },
        ...(s.seismic ? { latents_ann: { type: "sparse_vector", method: { name: "seismic" } } } : {}),
      },
    },
  };
}

/** The Loupe metadata of an index's mapping (`GET /<index>/_mapping`), or null when it has none. */
export function readIndexMeta(mappingResponse: unknown, index: string): LoupeIndexMeta | null {
  const entry = (mappingResponse as Record<string, { mappings?: { _meta?: { loupe?: LoupeIndexMeta } } }>)?.[index];
  return entry?.mappings?._meta?.loupe ?? null;
}

export interface ChunkDocument {
  root: string;
  path: string;
  /** The chunk's place among its file's chunks, 0-based. */
  ordinal: number;
  startLine: number;
  endLine: number;
  startCol?: number;
  endCol?: number;
  symbol: string;
  language: string;
  kind: string;
  hash: string;
  fileHash: string;
  /** How the latent channel read the chunk (index/segment-writer.ts ChunkMeta): the language of its gloss, absent when read as written. */
  glossedFrom?: string;
  /** The share of its letters the encoder reads, absent when 1. */
  readable?: number;
  text: string;
  /** Loupe's lexical terms of the chunk (repeats count). */
  terms: readonly string[];
  latent: { ids: ArrayLike<number>; weights: ArrayLike<number> };
}

/**
 * A document id that is the same every time the same chunk place is written, so pushes are
 * idempotent: sha1 of root, path and ordinal (under OpenSearch's 512-byte limit for any path).
 */
export function documentId(root: string, path: string, ordinal: number): string {
  return createHash("sha1").update(`${root}\0${path}\0${ordinal}`).digest("hex");
}

/**
 * Latents as `rank_features`: the latent id as the feature name, the weight as its value.
 * OpenSearch (Lucene's FeatureField) takes only positive finite values; anything else is refused
 * here, before a request is sent, naming the chunk.
 */
export function latentFeatures(latent: ChunkDocument["latent"], where: string, digits?: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < latent.ids.length; i++) {
    const w = latent.weights[i]!;
    if (!(w > 0) || !Number.isFinite(w)) throw new Error(`${where}: latent ${latent.ids[i]} has weight ${w}; OpenSearch rank_features take positive finite values only`);
    out[String(latent.ids[i])] = digits ? Number(w.toPrecision(digits)) : w;
  }
  return out;
}

/**
 * Significant digits a document's latent weights are sent with. Lucene's FeatureField keeps 9
 * significant bits (about 2.7 digits); four digits lose nothing it keeps (rounding ≤ 5·10⁻⁴
 * relative, against its 2⁻⁸ truncation), where a float32 printed in full takes 17: measured,
 * the `_bulk` bodies of vuejs/core's runtime-core went from 14.5× to 8.6× the source
 * (bench/results/opensearch-push.json).
 */
export const DOCUMENT_WEIGHT_DIGITS = 4;

export function documentSource(d: ChunkDocument, seismic = false): Record<string, unknown> {
  const latents = latentFeatures(d.latent, `${d.path}:${d.startLine}`, DOCUMENT_WEIGHT_DIGITS);
  return {
    root: d.root,
    path: d.path,
    ordinal: d.ordinal,
    start_line: d.startLine,
    end_line: d.endLine,
    ...(d.startCol !== undefined ? { start_col: d.startCol, end_col: d.endCol } : {}),
    symbol: d.symbol,
    language: d.language,
    kind: d.kind,
    hash: d.hash,
    file_hash: d.fileHash,
    ...(d.glossedFrom !== undefined ? { glossed_from: d.glossedFrom } : {}),
    ...(d.readable !== undefined ? { readable: d.readable } : {}),
    text: d.text,
    terms: d.terms.join(" "),
    latents,
    ...(seismic ? { latents_ann: latents } : {}),
  };
}

export type BulkAction = { index: ChunkDocument } | { delete: { root: string; path: string; ordinal: number } };

/** A `_bulk` body: one action line (and one source line for `index`) per action, newline-terminated. */
export function bulkBody(index: string, actions: readonly BulkAction[], seismic = false): string {
  const lines: string[] = [];
  for (const a of actions) {
    if ("index" in a) {
      lines.push(JSON.stringify({ index: { _index: index, _id: documentId(a.index.root, a.index.path, a.index.ordinal) } }));
      lines.push(JSON.stringify(documentSource(a.index, seismic)));
    } else {
      lines.push(JSON.stringify({ delete: { _index: index, _id: documentId(a.delete.root, a.delete.path, a.delete.ordinal) } }));
    }
  }
  return lines.join("\n") + "\n";
}

export interface SearchFilters {
  roots?: readonly string[];
  kinds?: readonly string[];
  languages?: readonly string[];
  /** Literal path prefixes (folders) a hit must be under; globs are checked by the caller. */
  pathPrefixes?: readonly string[];
}

function filterClauses(f: SearchFilters): unknown[] {
  const out: unknown[] = [];
  if (f.roots?.length) out.push({ terms: { root: [...f.roots] } });
  if (f.kinds?.length) out.push({ terms: { kind: [...f.kinds] } });
  if (f.languages?.length) out.push({ terms: { language: [...f.languages] } });
  if (f.pathPrefixes?.length) out.push({ bool: { should: f.pathPrefixes.map((p) => ({ prefix: { path: p } })), minimum_should_match: 1 } });
  return out;
}

const SOURCE_FIELDS = ["root", "path", "ordinal", "start_line", "end_line", "start_col", "end_col", "symbol", "language", "kind", "hash", "glossed_from", "readable", "text"];

/** The lexical channel: BM25 over `terms`, each term boosted by its weight (bridged translations weigh less). */
export function lexicalQuery(terms: ReadonlyMap<string, number>, filters: SearchFilters, size: number): Record<string, unknown> {
  return {
    size,
    _source: SOURCE_FIELDS,
    query: {
      bool: {
        should: [...terms].map(([value, boost]) => ({ term: { terms: boost === 1 ? value : { value, boost } } })),
        minimum_should_match: 1,
        filter: filterClauses(filters),
      },
    },
  };
}

/**
 * The latent channel: `neural_sparse` with raw `query_tokens` on the rank_features field (an
 * exact dot product), or on the sparse_vector field for approximate search.
 */
export function latentQuery(latent: ChunkDocument["latent"], filters: SearchFilters, size: number, ann = false): Record<string, unknown> {
  const tokens = latentFeatures(latent, "the query");
  const clause = ann ? { neural_sparse: { latents_ann: { query_tokens: tokens, method_parameters: { k: size } } } } : { neural_sparse: { latents: { query_tokens: tokens } } };
  return { size, _source: SOURCE_FIELDS, query: { bool: { must: [clause], filter: filterClauses(filters) } } };
}

/** An `_msearch` body: a header line and a body line per search, newline-terminated. */
export function msearchBody(index: string, searches: readonly Record<string, unknown>[]): string {
  return searches.map((s) => `${JSON.stringify({ index })}\n${JSON.stringify(s)}\n`).join("");
}
