// `loupe eval`: index every document of a BEIR-layout set as one unit with the engine of the
// day, run every query, and score the rankings. Modes are retrieval channels; later issues add
// `latent` and `hybrid`.
import type { Encoder } from "../model/encoder.js";
import { Bm25Index } from "../search/bm25.js";
import { DenseIndex } from "../search/dense.js";
import { DEFAULT_FUSION, fuse, type FusionOptions } from "../search/fusion.js";
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
  const texts = set.docs.map(docText);
  for (let i = 0; i < texts.length; i += ENCODE_CHUNK) {
    for (const v of await encoder.encodeSparse(texts.slice(i, i + ENCODE_CHUNK), "document", options.docK)) index.add(v);
    progress("encoding documents", Math.min(i + ENCODE_CHUNK, texts.length), texts.length);
  }
  const queries = await encoder.encodeSparse(set.queries.map((q) => q.text), "query", options.queryK);
  return queries.map((q) => index.search(q, k));
}

async function rank(set: EvalSet, options: EvalOptions, k: number): Promise<Hit[][]> {
  const progress = options.onProgress ?? (() => {});
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
    return queries.map((q, i) => fuse(index.search(q, fusion.depth), latent[i]!, k, fusion));
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

export async function runEval(set: EvalSet, options: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const rankings = await rank(set, options, 100);
  return {
    set: options.name,
    mode: options.mode,
    queries: set.queries.length,
    ...scoreRankings(set, rankings),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
