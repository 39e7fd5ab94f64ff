// A workspace on an OpenSearch cluster: what `loupe opensearch push` and `loupe opensearch
// search` run. Loupe keeps doing what only it does (reading with its ignore rules, chunking,
// its lexical analysis and bridge, encoding into the pack's latents, fusing); the cluster keeps
// the index (opensearch/format.ts, opensearch/client.ts). Many machines may push roots into one
// index: a root is named (by default the folder's name), never by a local path.
import { ANALYZER_VERSION } from "../analysis/analyzer.js";
import { chunkReading, forEncoder, latentText, questionGlossedFrom, questionTrust, type LexicalAnalyzer } from "../analysis/bridge.js";
import { chunkFile, DEFAULT_LIMITS } from "../chunk/index.js";
import { fileKind, languageOf, type FileKind } from "../file-types.js";
import type { OpenSearchClient } from "../opensearch/client.js";
import { latentQuery, lexicalQuery, type BulkAction, type ChunkDocument, type SearchFilters } from "../opensearch/format.js";
import { chunkTrust, DEFAULT_FUSION, fuse } from "../search/fusion.js";
import type { Hit } from "../search/topk.js";
import { walkWorkspace } from "../workspace/ignore.js";
import { basename } from "node:path";
import type { SparseVector } from "../sparse-vector.js";
import type { ChunkEncoder } from "./chunk-encoder.js";
import { sha } from "./chunk-text.js";

/** Files chunked, encoded and sent together. */
const FILES_PER_BATCH = 32;
/** Paths per delete query (under OpenSearch's default index.max_terms_count of 65,536). */
const PATHS_PER_DELETE = 1000;

export interface PushOptions {
  client: OpenSearchClient;
  /** The root's name in the index; default the folder's name. */
  name: string;
  encoder: ChunkEncoder;
  lexical: LexicalAnalyzer;
  seismic?: boolean;
  /** A chunk's vector when the caller already has it (a daemon's own index), by path and chunk hash. */
  known?: (path: string, chunkHash: string) => SparseVector | undefined;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

export interface PushResult {
  files: number;
  changed: number;
  removed: number;
  chunks: number;
  requests: number;
}

/**
 * Brings the cluster's copy of `folder` up to date: files whose content changed (by hash) are
 * chunked, encoded and written (document ids by root, path and chunk ordinal, so a push is
 * idempotent), their chunks past the new count deleted; files gone from the folder (removed,
 * renamed, newly ignored) are deleted. Unchanged files cost one hash each.
 */
export async function pushRoot(folder: string, o: PushOptions): Promise<PushResult> {
  const log = o.log ?? (() => {});
  await o.client.ensureIndex({ pack: o.encoder.fingerprint, packName: o.encoder.name, analyzer: ANALYZER_VERSION, ...(o.seismic ? { seismic: true } : {}) });
  const { files, skipped } = await walkWorkspace(folder, { keepText: true });
  log(`${files.length} files under ${folder} (${skipped.length} skipped by ignore rules or checks)`);
  const indexed = await o.client.files(o.name);
  const fileHashes = new Map(files.map((f) => [f.path, sha(f.text!)]));
  const changed = files.filter((f) => indexed.get(f.path) !== fileHashes.get(f.path));
  const present = new Set(files.map((f) => f.path));
  const removed = [...indexed.keys()].filter((p) => !present.has(p));
  let chunks = 0;
  let requests = 0;
  for (let at = 0; at < changed.length; at += FILES_PER_BATCH) {
    const batch = changed.slice(at, at + FILES_PER_BATCH);
    const documents: ChunkDocument[] = [];
    /** Texts to encode, with the document each vector goes to. */
    const toEncode: string[] = [];
    const encodeFor: number[] = [];
    const stale: Array<{ path: string; from: number }> = [];
    for (const f of batch) {
      const text = f.text!;
      const prose = fileKind(f.path) === "notes";
      const pieces = await chunkFile(f.path, text, DEFAULT_LIMITS);
      if (prose) await o.lexical.prepare(pieces.map((c) => c.text));
      const fileHash = fileHashes.get(f.path)!;
      pieces.forEach((c, ordinal) => {
        const hash = sha(c.text);
        const known = o.known?.(f.path, hash);
        if (!known || known.ids.length === 0) {
          toEncode.push(o.lexical.document(c.text, prose, o.encoder.readsLanguage));
          encodeFor.push(documents.length);
        }
        documents.push({
          root: o.name, path: f.path, ordinal, startLine: c.startLine, endLine: c.endLine,
          ...(c.startCol !== undefined ? { startCol: c.startCol, endCol: c.endCol! } : {}),
          symbol: c.symbol, language: languageOf(f.path), kind: fileKind(f.path), hash, fileHash, text: c.text,
          ...chunkReading(o.lexical, c.text, prose, o.encoder),
          terms: o.lexical.chunk(f.path, c.text, prose), latent: known && known.ids.length > 0 ? known : { ids: [], weights: [] },
        });
      });
      if (indexed.has(f.path)) stale.push({ path: f.path, from: pieces.length });
    }
    const vectors = toEncode.length ? await o.encoder.encodeDocuments(toEncode) : [];
    vectors.forEach((v, i) => (documents[encodeFor[i]!]!.latent = v));
    const written = await o.client.bulk(documents.map((d): BulkAction => ({ index: d })), o.seismic);
    requests += written.requests;
    chunks += documents.length;
    if (stale.length > 0) {
      await o.client.deleteByQuery({
        bool: {
          filter: [{ term: { root: o.name } }],
          should: stale.map((s) => ({ bool: { filter: [{ term: { path: s.path } }, { range: { ordinal: { gte: s.from } } }] } })),
          minimum_should_match: 1,
        },
      });
      requests++;
    }
    o.onProgress?.(Math.min(at + FILES_PER_BATCH, changed.length), changed.length);
  }
  for (let at = 0; at < removed.length; at += PATHS_PER_DELETE) {
    await o.client.deleteByQuery({ bool: { filter: [{ term: { root: o.name } }, { terms: { path: removed.slice(at, at + PATHS_PER_DELETE) } }] } });
    requests++;
  }
  await o.client.refresh();
  return { files: files.length, changed: changed.length, removed: removed.length, chunks, requests: requests + 1 };
}

export interface ClusterHit {
  root: string;
  path: string;
  startLine: number;
  endLine: number;
  symbol: string;
  language: string;
  kind: string;
  score: number;
  text: string;
}

export interface ClusterSearchOptions {
  client: OpenSearchClient;
  encoder: ChunkEncoder;
  lexical: LexicalAnalyzer;
  k: number;
  mode?: "hybrid" | "lexical" | "latent";
  filters?: SearchFilters;
  /** Search the sparse_vector field approximately (an index pushed with --seismic). */
  ann?: boolean;
}

/** Channel depth: as deep as the local search fuses over its best hits. */
const DEPTH = 100;

/**
 * A search on the cluster: the question analysed and encoded here, sent as BM25 and
 * `neural_sparse` in one `_msearch` with the same filters, the two lists fused as Loupe fuses
 * (normalised weighted sum, the lexical weight by file kind, the latent channel trusted by how
 * much of the question the encoder reads).
 */
export async function searchCluster(query: string, o: ClusterSearchOptions): Promise<ClusterHit[]> {
  const mode = o.mode ?? "hybrid";
  const filters = o.filters ?? {};
  await o.lexical.prepare([query]);
  const bridged = forEncoder(o.lexical.query(query), o.encoder.readsLanguage);
  const depth = Math.max(DEPTH, o.k);
  const searches: Record<string, unknown>[] = [];
  if (mode !== "latent") searches.push(lexicalQuery(bridged.terms, filters, depth));
  if (mode !== "lexical") {
    const vector = await o.encoder.encodeQuery(latentText(query, bridged));
    if (vector.ids.length > 0) searches.push(latentQuery(vector, filters, depth, o.ann));
  }
  if (searches.length === 0) return [];
  const results = await o.client.msearch(searches);
  const lexicalHits = mode !== "latent" ? results.shift()! : [];
  const latentHits = mode !== "lexical" ? (results.shift() ?? []) : [];
  // Documents get numbers for fusion: first seen, first numbered.
  const numbers = new Map<string, number>();
  const sources: Array<Record<string, unknown>> = [];
  const asHits = (list: typeof lexicalHits): Hit[] =>
    list.map((h) => {
      let n = numbers.get(h.id);
      if (n === undefined) {
        n = sources.length;
        numbers.set(h.id, n);
        sources.push(h.source);
      }
      return { doc: n, score: h.score };
    });
  const lex = asHits(lexicalHits);
  const lat = asHits(latentHits);
  const kindOf = (doc: number): FileKind => (sources[doc]!.kind === "code" ? "code" : "notes");
  const readingOf = (doc: number) => {
    const s = sources[doc]!;
    return { ...(typeof s.glossed_from === "string" ? { glossedFrom: s.glossed_from } : {}), ...(typeof s.readable === "number" ? { readable: s.readable } : {}) };
  };
  const fused = mode === "lexical" ? lex.slice(0, o.k) : mode === "latent" ? lat.slice(0, o.k) : fuse(lex, lat, o.k, DEFAULT_FUSION, kindOf, undefined, {
    latentTrust: questionTrust(query, bridged, o.encoder.readableScripts),
    documentTrust: (doc) => chunkTrust(readingOf(doc), questionGlossedFrom(bridged)),
  });
  return fused.map((h) => {
    const s = sources[h.doc]!;
    return {
      root: String(s.root), path: String(s.path), startLine: Number(s.start_line), endLine: Number(s.end_line),
      symbol: String(s.symbol ?? ""), language: String(s.language ?? ""), kind: String(s.kind ?? ""), score: h.score, text: String(s.text ?? ""),
    };
  });
}

export interface MirrorOptions {
  client: OpenSearchClient;
  encoder: ChunkEncoder;
  lexical: () => Promise<LexicalAnalyzer>;
  known: (root: string, path: string, chunkHash: string) => SparseVector | undefined;
  log: (line: string) => void;
  /** Quiet time after a root settles before it is pushed (default 5 s). */
  delayMs?: number;
}

/**
 * A daemon's roots, fed into the shared index: when a root has settled (indexed, vectors
 * complete), it is pushed after a quiet `delayMs`, one root at a time, reusing the vectors the
 * daemon's own index holds so nothing is encoded twice. A root is named by its folder's name.
 * Failures are logged and kept for `status`; the next settle tries again.
 */
export class ClusterMirror {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  lastPush: { root: string; at: string; changed: number; removed: number; chunks: number } | null = null;
  lastError: string | null = null;

  constructor(private readonly o: MirrorOptions) {}

  /** A root settled: push it soon. */
  schedule(root: string): void {
    if (this.closed) return;
    this.pending.add(root);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.o.delayMs ?? 5000);
    this.timer.unref();
  }

  /** Resolves when no push is running or waiting (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running || this.timer) {
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async run(): Promise<void> {
    this.timer = null;
    if (this.running) {
      await this.running;
      if (this.pending.size > 0 && !this.timer) this.timer = setTimeout(() => void this.run(), 0);
      return;
    }
    this.running = (async () => {
      const lexical = await this.o.lexical();
      while (this.pending.size > 0 && !this.closed) {
        const root = this.pending.values().next().value as string;
        this.pending.delete(root);
        const name = basename(root);
        try {
          const r = await pushRoot(root, { client: this.o.client, name, encoder: this.o.encoder, lexical, known: (path, hash) => this.o.known(root, path, hash) });
          this.lastPush = { root: name, at: new Date().toISOString(), changed: r.changed, removed: r.removed, chunks: r.chunks };
          this.lastError = null;
          if (r.changed > 0 || r.removed > 0) this.o.log(`cluster: pushed ${name} to ${this.o.client.index}: ${r.changed} files changed (${r.chunks} chunks), ${r.removed} removed`);
        } catch (e) {
          this.lastError = `${name}: ${(e as Error).message}`;
          this.o.log(`cluster: pushing ${name} failed (${(e as Error).message}); the next change tries again`);
        }
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }
}
