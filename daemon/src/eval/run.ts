// `loupe eval`: index every document of a BEIR-layout set as one unit, run every query, and
// score the rankings. Modes are retrieval channels. The lexical, latent and hybrid modes run on
// the on-disk index engine (daemon/src/index/, in an in-memory directory) by default; `engine:
// "memory"` runs the in-memory scorers of daemon/src/search/ instead, which the index must
// match within quantisation noise (docs/index-format.md). Dense search has no index yet.
import { ANALYZER_VERSION } from "../analysis/analyzer.js";
import { chunkReading, forEncoder, latentText, openBridge, PLAIN, questionGlossedFrom, questionTrust, type LexicalAnalyzer } from "../analysis/bridge.js";
import { packReads } from "../model/pack.js";
import { readableShare } from "../analysis/scripts.js";
import { MemoryDirectory } from "../index/directory.js";
import { Index } from "../index/index.js";
import type { Searcher } from "../index/searcher.js";
import { latentQuery, weightedLexicalQuery } from "../index/terms.js";
import type { Encoder, SparseVector } from "../model/encoder.js";
import { Bm25Index } from "../search/bm25.js";
import { DenseIndex } from "../search/dense.js";
import { fileKind, type FileKind } from "../file-types.js";
import { chunkTrust, DEFAULT_FUSION, fuse, type ChunkReading, type FusionOptions } from "../search/fusion.js";
import { SparseIndex } from "../search/sparse.js";
import type { Hit } from "../search/topk.js";
import { docText, type EvalSet } from "./beir.js";
import { mrrAt, ndcgAt, recallAt } from "./metrics.js";

export const EVAL_MODES = ["lexical", "dense", "latent", "hybrid"] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

export interface EvalResult {
  set: string;
  mode: EvalMode;
  queries: number;
  "ndcg@10": number;
  "mrr@10": number;
  "recall@100": number;
  seconds: number;
}

export type Progress = (phase: string, done: number, total: number) => void;

export const EVAL_ENGINES = ["index", "memory"] as const;
export type EvalEngine = (typeof EVAL_ENGINES)[number];

export interface EvalOptions {
  name: string;
  mode: EvalMode;
  /** Required for every mode but `lexical`. */
  encoder?: Encoder;
  onProgress?: Progress;
  /** hybrid only; default DEFAULT_FUSION. */
  fusion?: FusionOptions;
  /** latent and hybrid: Top-K overrides for queries and documents (default: the pack's). */
  queryK?: number;
  docK?: number;
  /** lexical, latent, hybrid: "index" (default) or the in-memory scorers ("memory"). */
  engine?: EvalEngine;
  /** The index engine's lexical analysis: the shipped bridge by default; PLAIN (analysis/bridge.ts) to compare without it. The memory engine never bridges. */
  lexical?: LexicalAnalyzer;
}

/** Texts per encoder call while indexing: enough to fill batches, small enough to report progress. */
const ENCODE_CHUNK = 256;

async function embedAll(encoder: Encoder, texts: string[], phase: string, onProgress: Progress): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += ENCODE_CHUNK) {
    out.push(...(await encoder.embed(texts.slice(i, i + ENCODE_CHUNK))));
    onProgress(phase, Math.min(i + ENCODE_CHUNK, texts.length), texts.length);
  }
  return out;
}

function lexicalIndex(set: EvalSet, progress: Progress): Bm25Index {
  const index = new Bm25Index();
  set.docs.forEach((d, i) => {
    index.add(docText(d));
    if ((i + 1) % 1000 === 0 || i + 1 === set.docs.length) progress("indexing", i + 1, set.docs.length);
  });
  return index;
}

async function latentRankings(set: EvalSet, encoder: Encoder, options: EvalOptions, k: number, progress: Progress): Promise<Hit[][]> {
  const index = new SparseIndex();
  for (const v of await encodeDocs(set, encoder, options, progress)) index.add(v);
  const queries = await encoder.encodeSparse(set.queries.map((q) => q.text), "query", options.queryK);
  return queries.map((q) => index.search(q, k));
}

async function encodeDocs(set: EvalSet, encoder: Encoder, options: EvalOptions, progress: Progress, lexical: LexicalAnalyzer = PLAIN): Promise<SparseVector[]> {
  const kind = kindOf(set);
  const reads = packReads(encoder.pack.manifest);
  const texts = set.docs.map((d, i) => lexical.document(docText(d), kind(i) === "notes", reads));
  const out: SparseVector[] = [];
  for (let i = 0; i < texts.length; i += ENCODE_CHUNK) {
    out.push(...(await encoder.encodeSparse(texts.slice(i, i + ENCODE_CHUNK), "document", options.docK)));
    progress("encoding documents", Math.min(i + ENCODE_CHUNK, texts.length), texts.length);
  }
  return out;
}

/** Every document as one chunk of an index in an in-memory directory; `path` is the document's number. */
async function buildIndex(set: EvalSet, vectors: SparseVector[] | null, lexical: LexicalAnalyzer | null, encoder: Encoder | undefined, progress: Progress): Promise<Searcher> {
  const kind = kindOf(set);
  const index = await Index.open(new MemoryDirectory(), {
    pack: vectors && encoder ? encoder.pack.manifest.fingerprint : null,
    analyzer: ANALYZER_VERSION,
    maxBufferedDocs: 1 << 30,
  });
  const reading = { readableScripts: encoder?.readableScripts, readsLanguage: encoder ? packReads(encoder.pack.manifest) : undefined };
  for (let i = 0; i < set.docs.length; i++) {
    const text = docText(set.docs[i]!);
    await index.add({
      path: String(i), startLine: 1, endLine: 1, symbol: "", hash: "", root: "", language: "",
      // How the latent channel read it, as the daemon records it (fusion's per-chunk trust).
      ...(vectors && lexical ? chunkReading(lexical, text, kind(i) === "notes", reading) : {}),
      ...(lexical ? { lexical: lexical.chunk("", text, kind(i) === "notes") } : {}),
      ...(vectors ? { latent: vectors[i]! } : {}),
    });
    if ((i + 1) % 1000 === 0 || i + 1 === set.docs.length) progress("indexing", i + 1, set.docs.length);
  }
  await index.commit();
  return index.searcher();
}

/** Index hits carry global chunk numbers; eval wants document numbers (kept in the path). */
function toDocs(searcher: Searcher, hits: Hit[]): Hit[] {
  return hits.map((h) => ({ doc: Number(searcher.chunk(h.doc).path), score: h.score }));
}

/** A document is code when the set gives it a source-file extension (BEIR's optional "ext"). */
function kindOf(set: EvalSet): (doc: number) => FileKind {
  return (doc) => fileKind(`doc.${set.docs[doc]!.ext ?? ""}`);
}

/** A query's trust in the latent channel, as search gives it: the share of its letters the pack's vocabulary covers. */
function latentTrust(encoder: Encoder): (query: string) => number {
  return (query) => readableShare(query, encoder.readableScripts);
}

/** Rankings of every channel a mode needs, on the index engine (hybrid fills all three). */
export interface ChannelRankings {
  lexical?: Hit[][];
  latent?: Hit[][];
  hybrid?: Hit[][];
  /** Hybrid: how the latent channel read each document, as the index stored it (fusion's per-chunk trust). */
  readings?: ChunkReading[];
}

/**
 * Ranks every query on the index engine. For "hybrid" the lexical and latent lists it fuses
 * come back too (at the fusion depth), so a benchmark scores all three channels from one
 * encoding of the set.
 */
export async function rankOnIndex(set: EvalSet, options: EvalOptions, k: number, progress: Progress = () => {}): Promise<ChannelRankings> {
  const queries = set.queries.map((q) => q.text);
  const mode = options.mode;
  const encoder = options.encoder;
  if (mode !== "lexical" && !encoder) throw new Error(`${mode} mode needs an encoder`);
  const analyzer = options.lexical ?? (await openBridge());
  const vectors = mode === "lexical" ? null : await encodeDocs(set, encoder!, options, progress, analyzer);
  const searcher = await buildIndex(set, vectors, mode === "latent" ? null : analyzer, encoder, progress);
  const fusion = options.fusion ?? DEFAULT_FUSION;
  const depth = mode === "hybrid" ? fusion.depth : k;
  const reads = encoder ? packReads(encoder.pack.manifest) : undefined;
  const bridged = queries.map((q) => forEncoder(analyzer.query(q), reads));
  const lexical = mode === "latent" ? undefined : bridged.map((b) => toDocs(searcher, searcher.search(weightedLexicalQuery(b.terms), depth)));
  if (mode === "lexical") return { lexical };
  // The latent channel reads a translated question in its English words (search does the same).
  const latentTexts = bridged.map((b, i) => latentText(queries[i]!, b));
  const qv = await encoder!.encodeSparse(latentTexts, "query", options.queryK);
  const latent = qv.map((v) => toDocs(searcher, searcher.search(latentQuery(v), depth)));
  if (mode === "latent") return { latent };
  const trust = (i: number) => questionTrust(queries[i]!, bridged[i]!, encoder!.readableScripts);
  // Documents are the index's chunks in order (one segment), so document i is chunk i.
  const chunks = set.docs.map((_, i) => searcher.chunk(i));
  if (chunks.some((c, i) => c.path !== String(i))) throw new Error("the eval index's chunks are not its documents in order");
  return { readings: chunks, lexical, latent, hybrid: queries.map((_, i) => fuse(lexical![i]!, latent[i]!, k, fusion, kindOf(set), undefined, {
    latentTrust: trust(i),
    documentTrust: (doc) => chunkTrust(chunks[doc]!, questionGlossedFrom(bridged[i]!)),
  })) };
}

async function rank(set: EvalSet, options: EvalOptions, k: number): Promise<Hit[][]> {
  const progress = options.onProgress ?? (() => {});
  if (options.mode !== "dense" && (options.engine ?? "index") === "index") return (await rankOnIndex(set, options, k, progress))[options.mode]!;
  const queries = set.queries.map((q) => q.text);
  if (options.mode === "lexical") {
    const index = lexicalIndex(set, progress);
    return queries.map((q) => index.search(q, k));
  }
  const encoder = options.encoder;
  if (!encoder) throw new Error(`${options.mode} mode needs an encoder`);
  if (options.mode === "latent") return latentRankings(set, encoder, options, k, progress);
  if (options.mode === "hybrid") {
    const fusion = options.fusion ?? DEFAULT_FUSION;
    const latent = await latentRankings(set, encoder, options, fusion.depth, progress);
    const index = lexicalIndex(set, progress);
    const trust = latentTrust(encoder);
    return queries.map((q, i) => fuse(index.search(q, fusion.depth), latent[i]!, k, fusion, kindOf(set), undefined, { latentTrust: trust(q) }));
  }
  const index = new DenseIndex(encoder.hiddenSize, set.docs.length);
  for (const v of await embedAll(encoder, set.docs.map(docText), "encoding documents", progress)) index.add(v);
  const qv = await embedAll(encoder, queries, "encoding queries", progress);
  return qv.map((v) => index.search(v, k));
}

export interface Scores {
  "ndcg@10": number;
  "mrr@10": number;
  "recall@100": number;
}

/** Averages the metrics of one ranking per query (in `set.queries` order), to 4 decimals. */
export function scoreRankings(set: EvalSet, rankings: readonly Hit[][]): Scores {
  let ndcg = 0, mrr = 0, recall = 0;
  set.queries.forEach((q, i) => {
    const ranked = rankings[i]!.map((h) => set.docs[h.doc]!.id);
    const relevant = set.qrels.get(q.id) ?? new Map<string, number>();
    ndcg += ndcgAt(ranked, relevant, 10);
    mrr += mrrAt(ranked, relevant, 10);
    recall += recallAt(ranked, relevant, 100);
  });
  const n = set.queries.length;
  const round = (x: number) => Math.round((x / n) * 10000) / 10000;
  return { "ndcg@10": round(ndcg), "mrr@10": round(mrr), "recall@100": round(recall) };
}

/** The result of one eval run from its rankings; `started` is the run's `performance.now()` at start. */
export function evalResult(set: EvalSet, name: string, mode: EvalMode, rankings: readonly Hit[][], started: number): EvalResult {
  return {
    set: name,
    mode,
    queries: set.queries.length,
    ...scoreRankings(set, rankings),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

export async function runEval(set: EvalSet, options: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  return evalResult(set, options.name, options.mode, await rank(set, options, 100), started);
}
