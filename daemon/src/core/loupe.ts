// The core façade every adapter (daemon server, CLI, MCP, `loupe eval --workspace`) goes
// through: a set of workspace roots, each kept in sync with its own on-disk index by a
// RootIndex, one model shared by all, and the queries (search, read, similar, explain, status)
// answered over them. Requests and results are the plain data types of protocol.ts; bad
// arguments are LoupeErrors with codes the adapters map to their own error shapes.
import { createHash } from "node:crypto";
import picomatch from "picomatch";
import { readdir, realpath, rm, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { ErrorCode, LIMITS, LoupeError, shown, type Concept, type ExplainParams, type ExplainResult, type IndexingProgress, type ReadParams, type ReadResult, type RootStatus, type SearchFilters, type SearchHit, type SearchMode, type SearchParams, type SearchResult, type SimilarParams } from "@loupe/protocol";
import type { Filter, Searcher } from "../index/searcher.js";
import type { ChunkMeta } from "../index/segment-writer.js";
import { LATENT_PREFIX, latentQuery, lexicalTerm, LEXICAL_PREFIX, weightedLexicalQuery, type QueryTerm } from "../index/terms.js";
import { bridgeManifest, forEncoder, latentText, openBridge, questionGlossedFrom, questionTrust, type LexicalAnalyzer } from "../analysis/bridge.js";
import { fileKind } from "../file-types.js";
import { chunkTrust, DEFAULT_FUSION, fuse } from "../search/fusion.js";
import { rerank, RERANK_DEPTH, type RerankOptions } from "../search/rerank.js";
import type { Hit } from "../search/topk.js";
import { DEFAULT_MAX_FILE_BYTES, readWorkspaceFile, RulesCache } from "../workspace/ignore.js";
import type { ChunkEncoder } from "./chunk-encoder.js";
import { ChunkTextReader } from "./chunk-text.js";
import { RootIndex, type RootIndexOptions, type RootIndexStatus } from "./root-index.js";
import { bestSnippet } from "./snippet.js";
import { ClusterMirror, searchCluster } from "./cluster.js";
import type { SparseVector } from "../sparse-vector.js";
import { OpenSearchClient } from "../opensearch/client.js";
import { VectorCache } from "./vector-cache.js";

export interface LoupeOptions {
  /** Indexes live in `<cacheDir>/indexes/<name>-<hash of the root path>/`. */
  cacheDir: string;
  encoder: ChunkEncoder;
  /** Lexical analysis of chunks and questions; default the shipped bridge (analysis/bridge.ts). */
  lexical?: LexicalAnalyzer;
  log?: (line: string) => void;
  /** Passed to every root: watch (default true), debounce, batch size, file size limit. */
  rootOptions?: Pick<RootIndexOptions, "watch" | "debounceMs" | "batchFiles" | "maxDirty" | "maxFileBytes" | "chunkLimits">;
  /** Called when a root's status changes (progress, state). */
  onRootChange?: (status: RootIndexStatus) => void;
  vectorCacheEntries?: number;
  /** Overrides of the re-ranking constants (search/rerank.ts), for measuring them (`loupe eval --tasks --rerank`). */
  rerank?: Pick<RerankOptions, "rolePrior" | "symbolBoost" | "diversity" | "sameFileFree">;
  /**
   * A shared index on an OpenSearch cluster: searches with scope "cluster" go there
   * (core/cluster.ts); with `push`, every root is also fed into it when it settles.
   */
  cluster?: { url: string; index: string; push?: boolean };
}

/** Latents per hit reported as `concepts`. */
const CONCEPTS = 5;

function bad(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, message);
}

/** Globs compile here, so a broken one is an error rather than a filter that silently matches nothing. */
function globList(name: string, globs: string[] | undefined): string[] | undefined {
  for (const g of globs ?? []) {
    try {
      picomatch(g, { dot: true, strictBrackets: true });
    } catch (e) {
      bad(`${name}: ${shown(g)} is not a valid glob (${(e as Error).message})`);
    }
  }
  return globs;
}


/** Each distinct query word with its idf in `s`: what picks a hit's snippet lines. */
function wordWeights(s: Searcher, words: readonly string[]): Map<string, number> {
  return new Map([...new Set(words)].map((t) => [t, s.idf(lexicalTerm(t))]));
}

/** A hit's identity across roots: root number × 2^32 + the root searcher's doc number. */
const KEY = 2 ** 32;

/** How the latent channel read a question: fusion's trust in it (analysis/bridge.ts questionTrust) and the language its gloss was translated from. */
interface QuestionReading {
  trust: number;
  glossedFrom: string | undefined;
}

export class Loupe {
  private readonly roots = new Map<string, RootIndex>();
  /** Roots added for good (the daemon remembers them); the others are session roots. */
  private readonly saved = new Set<string>();
  /** Session roots: the sessions (any object, e.g. a client connection) holding each. */
  private readonly holders = new Map<string, Set<object>>();
  /** Roots being opened, by real path. */
  private readonly opening = new Map<string, Promise<RootIndex>>();
  private readonly vectors: VectorCache;
  private readonly log: (line: string) => void;
  lastError: string | null = null;

  /** The shared OpenSearch index, when the daemon was started with one. */
  private readonly clusterClient: OpenSearchClient | undefined;
  private readonly mirror: ClusterMirror | undefined;

  constructor(private readonly o: LoupeOptions) {
    this.vectors = new VectorCache(o.vectorCacheEntries);
    this.log = o.log ?? (() => {});
    this.clusterClient = o.cluster ? new OpenSearchClient({ url: o.cluster.url, index: o.cluster.index, log: this.log }) : undefined;
    if (this.clusterClient) this.log(`searches with scope "cluster" go to index ${this.clusterClient.index} on ${this.clusterClient.address}${o.cluster?.push ? "; roots are pushed there when they settle" : ""}`);
    this.mirror = this.clusterClient && o.cluster?.push
      ? new ClusterMirror({ client: this.clusterClient, encoder: o.encoder, lexical: () => this.lexical(), known: (root, path, hash) => this.knownVector(root, path, hash), log: this.log })
      : undefined;
  }

  /** Where searches with scope "cluster" go (credentials left out), or null. */
  cluster(): { url: string; index: string; push: { last: string | null; error: string | null } | null } | null {
    if (!this.clusterClient) return null;
    const m = this.mirror;
    const last = m?.lastPush ? `${m.lastPush.root} at ${m.lastPush.at}: ${m.lastPush.changed} files changed, ${m.lastPush.removed} removed` : null;
    return { url: this.clusterClient.address, index: this.clusterClient.index, push: m ? { last, error: m.lastError } : null };
  }

  /** Resolves when no push to the cluster is running or waiting. */
  clusterSettled(): Promise<void> {
    return this.mirror?.settled() ?? Promise.resolve();
  }

  /**
   * The last file a push asked about: its chunks by hash, under the index snapshot (segment list)
   * they were read from. A push asks for a file's chunks one after another, so each file's store
   * entries are read once, not once per chunk.
   */
  private known?: { root: string; path: string; segments: Searcher["segments"]; byHash: Map<string, number> };

  /** The vector a root's own index holds for a chunk of `path` with this hash (pushes reuse it). */
  private knownVector(root: string, path: string, hash: string): SparseVector | undefined {
    const r = this.roots.get(root);
    if (!r) return undefined;
    const s = r.searcher();
    let k = this.known;
    if (!k || k.root !== root || k.path !== path || k.segments !== s.segments) {
      const byHash = new Map<string, number>();
      for (const doc of s.docsOfPath(path)) {
        const h = s.chunk(doc).hash;
        if (!byHash.has(h)) byHash.set(h, doc);
      }
      this.known = k = { root, path, segments: s.segments, byHash };
    }
    const doc = k.byHash.get(hash);
    return doc === undefined ? undefined : s.latentVector(doc);
  }

  get encoder(): ChunkEncoder {
    return this.o.encoder;
  }

  static indexDirFor(cacheDir: string, root: string): string {
    const name = basename(root).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "root";
    return join(cacheDir, "indexes", `${name}-${createHash("sha256").update(root).digest("hex").slice(0, 12)}`);
  }

  rootList(): RootIndex[] {
    return [...this.roots.values()];
  }

  /**
   * Registers a root (absolute after resolving symlinks) and starts indexing it; the existing one
   * when already added. With `session`, the root is held by that session only and closed by
   * `releaseSession` when no session holds it any more, unless it was also added for good.
   */
  async addRoot(path: string, o: { session?: object } = {}): Promise<RootIndex> {
    const r = await this.openRoot(path);
    if (o.session) {
      let h = this.holders.get(r.root);
      if (!h) this.holders.set(r.root, (h = new Set()));
      h.add(o.session);
    } else {
      this.saved.add(r.root);
    }
    return r;
  }

  /** Roots added for good (not session roots). */
  savedRoots(): string[] {
    return [...this.saved];
  }

  /** Drops `session`'s hold on its roots (or only on `only`); closes (and returns) the ones nobody holds any more. Their indexes stay on disk. */
  async releaseSession(session: object, only?: string): Promise<string[]> {
    const closed: string[] = [];
    for (const [root, h] of this.holders) {
      if (only !== undefined && root !== only) continue;
      if (!h.delete(session) || h.size > 0) continue;
      this.holders.delete(root);
      if (this.saved.has(root)) continue;
      const r = this.roots.get(root);
      this.roots.delete(root);
      await r?.close();
      closed.push(root);
    }
    return closed;
  }

  /** Drops `session`'s hold on the session root `path` (as added, or what it resolves to); closes it when nobody holds it and it is not saved. NOT_FOUND when it is not a root. */
  async releaseSessionRoot(path: string, session: object): Promise<string[]> {
    const r = await this.rootFor(path);
    return this.releaseSession(session, r.root);
  }

  private async openRoot(path: string): Promise<RootIndex> {
    if (typeof path !== "string" || path === "") bad("root must be a folder path");
    let root: string;
    try {
      root = await realpath(resolve(path));
      if (!(await stat(root)).isDirectory()) throw new LoupeError(ErrorCode.WorkspaceRoot, `the workspace root ${path} is not a folder. Pass the folder that holds your code and notes.`);
      await readdir(root);
    } catch (e) {
      if (e instanceof LoupeError) throw e;
      throw new LoupeError(ErrorCode.WorkspaceRoot, `cannot open the workspace root ${path} (${(e as NodeJS.ErrnoException).code ?? e}). Check the path and its permissions.`);
    }
    const existing = this.roots.get(root) ?? this.opening.get(root);
    if (existing) return existing;
    for (const other of [...this.roots.keys(), ...this.opening.keys()]) {
      if (root.startsWith(other + sep) || other.startsWith(root + sep)) {
        throw new LoupeError(ErrorCode.WorkspaceRoot, `${root} overlaps the workspace root ${other}; remove one first (\`loupe remove-root\`) so no file is indexed twice`);
      }
    }
    // Two requests adding one root at once (a client while the daemon reopens its saved roots)
    // share one opening: a second RootIndex would find the index folder locked.
    const opening = (async () => {
      const index = await RootIndex.open({
        ...this.o.rootOptions,
        root,
        indexDir: Loupe.indexDirFor(this.o.cacheDir, root),
        encoder: this.o.encoder,
        lexical: this.lexical(),
        vectors: this.vectors,
        log: this.log,
        onChange: (s) => {
          this.o.onRootChange?.(s);
          // Settled (up to date, every vector computed): feed the shared index.
          if (this.mirror && (s.state === "watching" || s.state === "idle") && s.pending === 0 && s.latent.ready === s.latent.total) this.mirror.schedule(s.root);
        },
      });
      this.roots.set(root, index);
      await index.start();
      return index;
    })();
    this.opening.set(root, opening);
    try {
      return await opening;
    } finally {
      this.opening.delete(root);
    }
  }

  /** Stops serving and watching a root and deletes its index folder (only derived data). Resolves to the root as registered. */
  async removeRoot(path: string): Promise<string> {
    const r = await this.rootFor(path);
    this.roots.delete(r.root);
    this.saved.delete(r.root);
    this.holders.delete(r.root);
    await r.close();
    await rm(r.indexDir, { recursive: true, force: true });
    return r.root;
  }

  async reindex(path?: string): Promise<void> {
    const targets = path === undefined ? this.rootList() : [await this.rootFor(path)];
    await Promise.all(targets.map((r) => r.reindex()));
  }

  /** Resolves when every root (or the given one) has nothing queued. */
  async whenIdle(path?: string): Promise<void> {
    const targets = path === undefined ? this.rootList() : [await this.rootFor(path)];
    await Promise.all(targets.map((r) => r.whenIdle()));
  }

  async rootStatus(r: RootIndex): Promise<RootStatus> {
    let bytes = 0;
    try {
      for (const e of await readdir(r.indexDir, { withFileTypes: true })) if (e.isFile()) bytes += (await stat(join(r.indexDir, e.name))).size;
    } catch {
      // Not created yet.
    }
    return { ...r.status(bytes), lifetime: this.saved.has(r.root) ? "saved" : "session" };
  }

  async close(): Promise<void> {
    await this.mirror?.close();
    await Promise.all(this.rootList().map((r) => r.close()));
    this.roots.clear();
    this.saved.clear();
    this.holders.clear();
  }

  // --- queries --------------------------------------------------------------------------------

  private indexing(targets: RootIndex[]): IndexingProgress | null {
    const busy = targets.filter((r) => r.state === "scanning" || r.state === "indexing");
    if (busy.length === 0) return null;
    let done = 0, total = 0, ready = 0, files = 0;
    for (const r of busy) {
      done += r.progress?.done ?? 0;
      total += r.progress?.total ?? 0;
      ready += r.latent.ready;
      files += r.latent.total;
    }
    return { done, total, latent: { ready, total: files }, roots: busy.map((r) => r.root) };
  }

  private async targets(f: SearchFilters): Promise<RootIndex[]> {
    if (this.roots.size === 0) throw new LoupeError(ErrorCode.NoRoots, "no workspace root is indexed yet; add one with `loupe index <folder>` (or the MCP server's --root)");
    if (!f.roots?.length) return this.rootList();
    return Promise.all(f.roots.map((r) => this.rootFor(r)));
  }

  private filterOf(f: SearchFilters): Filter {
    const paths = globList("paths", f.paths);
    const exclude = globList("exclude", f.exclude);
    const { languages, kinds } = f;
    return {
      ...(paths?.length ? { pathGlob: paths } : {}),
      ...(exclude?.length ? { excludeGlob: exclude } : {}),
      ...(languages?.length ? { languages: languages.map((l) => l.toLowerCase().replace(/^\./, "")) } : {}),
      ...(kinds?.length ? { kinds } : {}),
    };
  }

  /**
   * A search of the shared OpenSearch index (docs/scale-out.md): analysed and encoded here,
   * ranked on the cluster, fused here. `roots` name roots as they were pushed (a path's last
   * part is taken as its name); path globs are applied to the hits, their literal folder prefixes
   * sent along so the cluster's pages stay full. A hit of a root this daemon also serves points
   * at the local file; others carry `<index>:<root name>` as root and cannot be read here.
   */
  private async searchCluster(p: SearchParams): Promise<SearchResult> {
    const client = this.clusterClient;
    if (!client) bad('this daemon has no OpenSearch index: start it with --opensearch URL [--opensearch-index NAME] (docs/scale-out.md), or search with scope "local"');
    const mode = p.mode ?? "hybrid";
    const k = p.k ?? LIMITS.defaultK;
    const offset = p.offset ?? 0;
    const filter = this.filterOf(p);
    const paths = globList("paths", p.paths);
    const excluded = globList("exclude", p.exclude);
    const include = paths?.length ? picomatch(paths, { dot: true }) : null;
    const exclude = excluded?.length ? picomatch(excluded, { dot: true }) : null;
    // A glob's literal folder part ("src/" of "src/**/*.ts"), sent to the cluster as a prefix filter.
    const prefixes = paths?.map((g) => {
      const at = g.search(/[*?[{(!]/);
      return (at === -1 ? g : g.slice(0, at)).replace(/[^/]*$/, "");
    });
    const globbed = include !== null || exclude !== null;
    const want = Math.min(offset + k, LIMITS.depth);
    const hits = await searchCluster(p.query, {
      client, encoder: this.o.encoder, lexical: await this.lexical(), mode, k: Math.min(globbed ? 3 * want : want + 1, LIMITS.depth),
      filters: {
        ...(p.roots?.length ? { roots: p.roots.map((r) => basename(r.replace(/\/+$/, "")) || r) } : {}),
        ...(filter.kinds ? { kinds: filter.kinds } : {}),
        ...(filter.languages ? { languages: filter.languages } : {}),
        ...(prefixes && prefixes.every((x) => x !== "") ? { pathPrefixes: prefixes } : {}),
      },
    });
    const kept = hits.filter((h) => (!include || include(h.path)) && !(exclude && exclude(h.path)));
    const analyzer = await this.lexical();
    const words = new Map([...analyzer.query(p.query).terms.keys()].map((t) => [t, 1]));
    const local = new Map(this.rootList().map((r) => [basename(r.root), r.root]));
    const page: SearchHit[] = kept.slice(offset, offset + k).map((h) => {
      const snippet = bestSnippet(h.text, h.startLine, words);
      const here = local.get(h.root);
      return {
        root: here ?? `${client.index}:${h.root}`, path: h.path, file: here ? join(here, h.path) : `${h.root}/${h.path}`,
        startLine: h.startLine, endLine: h.endLine, score: h.score, snippet: snippet.text, snippetStartLine: snippet.startLine, snippetEndLine: snippet.endLine,
        symbol: h.symbol, language: h.language, kind: h.kind === "code" ? "code" : "notes", concepts: [],
      };
    });
    return { query: p.query, mode, hits: page, nextOffset: kept.length > offset + k && offset + k < LIMITS.depth ? offset + k : null, indexing: null };
  }

  async search(p: SearchParams): Promise<SearchResult> {
    if (p.scope === "cluster") return this.searchCluster(p);
    const mode = p.mode ?? "hybrid";
    const k = p.k ?? LIMITS.defaultK;
    const offset = p.offset ?? 0;
    const targets = await this.targets(p);
    const filter = this.filterOf(p);
    const analyzer = await this.lexical();
    await analyzer.prepare([p.query]);
    const bridged = forEncoder(analyzer.query(p.query), this.o.encoder.readsLanguage);
    const words = [...bridged.terms.keys()];
    const lexical = mode === "latent" ? null : weightedLexicalQuery(bridged.terms);
    const latent = mode === "lexical" ? null : latentQuery(await this.o.encoder.encodeQuery(latentText(p.query, bridged)));
    const want = Math.min(offset + k, LIMITS.depth);
    const ranked = this.rank(targets, lexical, latent, filter, want + 1, p.query, { trust: questionTrust(p.query, bridged, this.o.encoder.readableScripts), glossedFrom: questionGlossedFrom(bridged) });
    return this.page(p.query, mode, targets, ranked, latent, offset, k, words);
  }

  /**
   * Best-first hits over all targets; doc = root number × 2^32 + doc. With `query`, the best
   * RERANK_DEPTH are re-ranked for an agent (search/rerank.ts: file roles, named symbols, one
   * file not filling the page); `similar` ranks by the latent channel alone, without it.
   */
  private rank(targets: RootIndex[], lexical: QueryTerm[] | null, latent: QueryTerm[] | null, filter: Filter, want: number, query?: string, reading: QuestionReading = { trust: 1, glossedFrom: undefined }): { hits: Hit[]; searchers: Searcher[] } {
    const searchers = targets.map((r) => r.searcher());
    const ranked = this.fused(searchers, targets, lexical, latent, filter, query === undefined ? want : Math.max(want, RERANK_DEPTH), reading);
    if (query === undefined) return { hits: ranked, searchers };
    // Each candidate's chunk is read from the store once (its path and symbol are both needed).
    const chunks = new Map<number, ChunkMeta>();
    const chunkOf = (doc: number) => {
      let c = chunks.get(doc);
      if (!c) chunks.set(doc, (c = searchers[Math.floor(doc / KEY)]!.chunk(doc % KEY)));
      return c;
    };
    const hits = rerank(ranked, { query, pathOf: (doc) => chunkOf(doc).path, symbolOf: (doc) => chunkOf(doc).symbol, codeRoot: (doc) => targets[Math.floor(doc / KEY)]!.codeRoot, ...this.o.rerank });
    return { hits: hits.slice(0, want), searchers };
  }

  /** Languages bridged to English (status): the given analyzer's, else the shipped tables'. */
  bridgedLanguages(): string[] {
    return this.o.lexical ? [...this.o.lexical.languages] : Object.keys(bridgeManifest().languages).sort();
  }

  /** The lexical analyzer: the one given, else the shipped bridge (opened on first use). */
  private lexical(): Promise<LexicalAnalyzer> {
    return this.o.lexical ? Promise.resolve(this.o.lexical) : openBridge();
  }

  /** `reading`: how the latent channel read the question (its trust, and the language of its gloss), weighed against how it read each chunk (search/fusion.ts chunkTrust). */
  private fused(searchers: Searcher[], targets: RootIndex[], lexical: QueryTerm[] | null, latent: QueryTerm[] | null, filter: Filter, want: number, reading: QuestionReading): Hit[] {
    const depth = lexical && latent ? DEFAULT_FUSION.depth : want;
    const channel = (q: QueryTerm[] | null): Hit[] => {
      if (!q || q.length === 0) return [];
      const all: Hit[] = [];
      searchers.forEach((s, ri) => {
        for (const h of s.search(q, depth, { filter })) all.push({ doc: ri * KEY + h.doc, score: h.score });
      });
      return all.sort((a, b) => b.score - a.score || a.doc - b.doc).slice(0, depth);
    };
    const lex = channel(lexical);
    const lat = channel(latent);
    if (!lexical) return lat.slice(0, want);
    if (!latent) return lex.slice(0, want);
    // A fused hit's chunk, read from the store once (kind, latent readiness and trust all need it).
    const chunks = new Map<number, ChunkMeta>();
    const chunkOf = (doc: number) => {
      let c = chunks.get(doc);
      if (c === undefined) chunks.set(doc, (c = searchers[Math.floor(doc / KEY)]!.chunk(doc % KEY)));
      return c;
    };
    const pathOf = (doc: number) => chunkOf(doc).path;
    const kindOf = (doc: number) => fileKind(pathOf(doc));
    // Chunks still waiting for their latent vector rank by their words alone (see fuse).
    const pending = targets.some((r) => r.latent.ready < r.latent.total);
    const latentMissing = pending ? (doc: number) => targets[Math.floor(doc / KEY)]!.latentMissing(pathOf(doc)) : undefined;
    return fuse(lex, lat, want, DEFAULT_FUSION, kindOf, latentMissing, { latentTrust: reading.trust, documentTrust: (doc) => chunkTrust(chunkOf(doc), reading.glossedFrom) });
  }

  /**
   * One page of hits. `words`: the query's analyzer terms, which pick each hit's snippet lines
   * (weighted by their idf in the hit's root); null shows a chunk's first lines.
   */
  private async page(query: string, mode: SearchMode, targets: RootIndex[], ranked: { hits: Hit[]; searchers: Searcher[] }, latent: QueryTerm[] | null, offset: number, k: number, words: readonly string[] | null = null): Promise<SearchResult> {
    const readers = new Map<RootIndex, ChunkTextReader>();
    const weights = new Map<Searcher, Map<string, number>>();
    const weightsOf = (s: Searcher) => {
      let w = weights.get(s);
      if (!w) weights.set(s, (w = wordWeights(s, words ?? [])));
      return w;
    };
    const hits = await Promise.all(ranked.hits.slice(offset, offset + k).map((h) => {
      const r = targets[Math.floor(h.doc / KEY)]!;
      const s = ranked.searchers[Math.floor(h.doc / KEY)]!;
      return this.hit(r, s, h.doc % KEY, h.score, latent, readers, weightsOf(s));
    }));
    const more = ranked.hits.length > offset + k && offset + k < LIMITS.depth;
    return { query, mode, hits, nextOffset: more ? offset + k : null, indexing: this.indexing(targets) };
  }

  /**
   * The latents query and chunk share that say something: ranked by contribution × idf (a latent
   * in most chunks says little about this one), those in half the chunks or more left out (from
   * 20 chunks on), and
   * only those with a readable label (ChunkEncoder.conceptLabels) shown.
   */
  private concepts(s: Searcher, doc: number, latent: QueryTerm[] | null): Concept[] {
    if (!latent) return [];
    const labels = this.o.encoder.conceptLabels ?? this.o.encoder.labels;
    // idf at df = N / 2; an index of a handful of chunks says too little about what is common.
    const common = s.totalDocs >= 20 ? Math.log(2) : -Infinity;
    return s.explain(latent, doc)
      .map((c) => ({ id: Number(c.term.slice(LATENT_PREFIX.length)), contribution: c.contribution, idf: s.idf(c.term) }))
      .filter((c) => c.idf > common && (labels?.[c.id] ?? "") !== "")
      .sort((a, b) => b.contribution * b.idf - a.contribution * a.idf || a.id - b.id)
      .slice(0, CONCEPTS)
      .map((c) => ({ id: c.id, label: labels![c.id]!, weight: round(c.contribution) }));
  }

  /** A reader of `r`'s chunk texts, for one request (it keeps the files it read). */
  private textReader(r: RootIndex): ChunkTextReader {
    return new ChunkTextReader(r.root, this.o.rootOptions?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  }

  /** One reader per root and request: each file a page shows is read once. */
  private reader(r: RootIndex, readers: Map<RootIndex, ChunkTextReader>): ChunkTextReader {
    let reader = readers.get(r);
    if (!reader) readers.set(r, (reader = this.textReader(r)));
    return reader;
  }

  private async hit(r: RootIndex, s: Searcher, doc: number, score: number, latent: QueryTerm[] | null, readers: Map<RootIndex, ChunkTextReader>, words: ReadonlyMap<string, number>): Promise<SearchHit> {
    const c = s.chunk(doc);
    // The snippet is read from the file (the index keeps no copy of the text); a file changed
    // since shows what it holds there now, a vanished one no snippet.
    const text = await this.reader(r, readers).text(c);
    const snippet = bestSnippet(text ?? "", c.startLine, words);
    return {
      root: r.root, path: c.path, file: join(r.root, ...c.path.split("/")),
      startLine: c.startLine, endLine: c.endLine, score: round(score),
      snippet: snippet.text, snippetStartLine: snippet.startLine, snippetEndLine: snippet.endLine,
      symbol: c.symbol, language: c.language, kind: fileKind(c.path),
      concepts: this.concepts(s, doc, latent),
    };
  }

  // --- paths ----------------------------------------------------------------------------------

  /** The registered root for a path naming a root (as given or after resolving symlinks). */
  private async rootFor(path: string): Promise<RootIndex> {
    const direct = this.roots.get(resolve(path));
    if (direct) return direct;
    let real: string | null = null;
    try {
      real = await realpath(resolve(path));
    } catch {
      // Not on disk any more; only an exact match could have named it.
    }
    const r = real ? this.roots.get(real) : undefined;
    // The message names no other root: a client may serve only some of the daemon's roots.
    if (!r) throw new LoupeError(ErrorCode.NotFound, `${path} is not a workspace root (\`loupe status\` lists them); add it with \`loupe index ${path}\``);
    return r;
  }

  /**
   * Resolves a user-given path to a file inside a root. Refuses anything whose real location
   * (after `..` and symbolic links) is outside every root, and files the ignore rules skip.
   */
  async locate(path: string, root?: string): Promise<{ root: RootIndex; rel: string; file: string }> {
    if (path.includes("\0")) bad("path must not contain NUL characters");
    if (this.roots.size === 0) throw new LoupeError(ErrorCode.NoRoots, "no workspace root is indexed yet; add one with `loupe index <folder>`");
    const candidates = root !== undefined ? [await this.rootFor(root)] : this.rootList();
    const outside = () =>
      new LoupeError(ErrorCode.OutsideRoots, `${path} is outside the workspace roots; only files under them can be read. Pass a path relative to a root, e.g. one from a search hit.`);
    let firstMissing: string | null = null;
    for (const r of candidates) {
      const abs = isAbsolute(path) ? resolve(path) : resolve(r.root, path);
      if (abs !== r.root && !abs.startsWith(r.root + sep)) continue;
      let real: string;
      try {
        real = await realpath(abs);
      } catch {
        firstMissing ??= abs;
        continue;
      }
      if (real !== r.root && !real.startsWith(r.root + sep)) throw outside();
      const rel = relative(r.root, real).split(sep).join("/");
      const reason = rel === "" ? null : new RulesCache(r.root).check(rel, false);
      if (reason) throw new LoupeError(ErrorCode.NotFound, `${rel} is not indexed (${reason}), so Loupe does not serve it`);
      return { root: r, rel, file: real };
    }
    if (firstMissing) throw new LoupeError(ErrorCode.NotFound, `${path} does not exist (looked for ${firstMissing})`);
    throw outside();
  }

  async read(p: ReadParams): Promise<ReadResult> {
    const { root, rel, file } = await this.locate(p.path, p.root);
    const r = await readWorkspaceFile(file, this.o.rootOptions?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
    if ("skip" in r) throw new LoupeError(ErrorCode.NotFound, `${rel} cannot be read: ${r.skip}`);
    const lines = r.text!.split(/\r?\n/);
    if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
    const total = lines.length;
    const start = p.startLine ?? 1;
    if (start > Math.max(total, 1)) bad(`startLine must be from 1 to ${total} (the last line of ${rel}), got ${start}`);
    const end = p.endLine ?? Math.min(start + LIMITS.readDefaultLines - 1, total);
    if (end < start) bad(`endLine must be at least startLine (${start}), got ${end}`);
    // At most LIMITS.readLines lines a call; `endLine` in the result says where this one stopped.
    const last = Math.min(end, total, start + LIMITS.readLines - 1);
    return { root: root.root, path: rel, file, startLine: start, endLine: last, totalLines: total, text: lines.slice(start - 1, last).join("\n") };
  }

  /** The indexed chunk of `rel` covering `line` (or the first chunk of the file). */
  private chunkAt(s: Searcher, rel: string, line?: number): number {
    const docs = s.docsOfPath(rel);
    if (docs.length === 0) throw new LoupeError(ErrorCode.NotFound, `${rel} has no indexed chunks yet (still indexing, empty, or skipped); check \`loupe status\``);
    if (line === undefined) return docs.reduce((a, b) => (s.chunk(a).startLine <= s.chunk(b).startLine ? a : b));
    const doc = docs.find((d) => {
      const c = s.chunk(d);
      return c.startLine <= line && line <= c.endLine;
    });
    if (doc === undefined) throw new LoupeError(ErrorCode.NotFound, `no chunk of ${rel} covers line ${line} (blank lines belong to no chunk)`);
    return doc;
  }

  async similar(p: SimilarParams): Promise<SearchResult> {
    const k = p.k ?? LIMITS.defaultK;
    const { root, rel } = await this.locate(p.path, p.root);
    let text: string;
    let start: number, end: number;
    if (p.startLine === undefined && p.endLine === undefined) {
      const s = root.searcher();
      const c = s.chunk(this.chunkAt(s, rel));
      const read = await this.textReader(root).text(c);
      if (read === null) throw new LoupeError(ErrorCode.NotFound, `${rel} cannot be read any more (removed or no longer readable)`);
      ({ startLine: start, endLine: end } = c);
      text = read;
    } else {
      const r = await this.read({ path: rel, root: root.root, ...(p.startLine !== undefined ? { startLine: p.startLine } : {}), ...(p.endLine !== undefined ? { endLine: p.endLine } : {}) });
      ({ text, startLine: start, endLine: end } = r);
    }
    if (text.trim() === "") bad(`${rel}:${start}-${end} is blank; pick lines with text`);
    // A long range is represented by its beginning: encoding cost and memory stay bounded.
    const passage = text.slice(0, LIMITS.passageChars);
    const v = this.o.encoder.encodePassage ? await this.o.encoder.encodePassage(passage) : (await this.o.encoder.encodeDocuments([passage]))[0];
    const latent = latentQuery(v!).slice(0, 64);
    const targets = await this.targets(p);
    const ranked = this.rank(targets, null, latent, this.filterOf(p), k + 8);
    // Leave out the passage itself.
    ranked.hits = ranked.hits.filter((h) => {
      const r = targets[Math.floor(h.doc / KEY)]!;
      const c = ranked.searchers[Math.floor(h.doc / KEY)]!.chunk(h.doc % KEY);
      return !(r === root && c.path === rel && c.startLine <= end && start <= c.endLine);
    });
    // Scores on search's scale: relative to the best hit (1), not raw dot products.
    const top = ranked.hits[0]?.score ?? 0;
    if (top > 0) ranked.hits = ranked.hits.map((h) => ({ doc: h.doc, score: h.score / top }));
    return this.page(`${rel}:${start}-${end}`, "latent", targets, ranked, latent, 0, k);
  }

  async explain(p: ExplainParams): Promise<ExplainResult> {
    const { line } = p;
    const { root, rel } = await this.locate(p.path, p.root);
    const s = root.searcher();
    const doc = this.chunkAt(s, rel, line);
    const analyzer = await this.lexical();
    await analyzer.prepare([p.query]);
    const bridged = forEncoder(analyzer.query(p.query), this.o.encoder.readsLanguage);
    const encoded = latentText(p.query, bridged);
    const latent = latentQuery(await this.o.encoder.encodeQuery(encoded));
    const words = [...bridged.terms.keys()];
    const lexical = weightedLexicalQuery(bridged.terms);
    const lat = s.explain(latent, doc);
    const lex = s.explain(lexical, doc);
    const weights = new Map(latent.map((q) => [q.term, q.weight]));
    const lexicalScore = lex.reduce((a, c) => a + c.contribution, 0);
    const latentScore = lat.reduce((a, c) => a + c.contribution, 0);
    // The hit's score as search gives it in this root (fused, file role and named symbol), before
    // the page's diversity discount: each channel relative to its best chunk for the query.
    const best = (q: QueryTerm[]) => (q.length === 0 ? 0 : (s.search(q, 1)[0]?.score ?? 0));
    const [bestLex, bestLat] = [best(lexical), best(latent)];
    const c = s.chunk(doc);
    const alpha = fileKind(c.path) === "code" ? (DEFAULT_FUSION.alphaCode ?? DEFAULT_FUSION.alpha) : DEFAULT_FUSION.alpha;
    const [lexN, latN] = [bestLex > 0 ? lexicalScore / bestLex : 0, bestLat > 0 ? latentScore / bestLat : 0];
    const trust = questionTrust(p.query, bridged, this.o.encoder.readableScripts) * chunkTrust(c, questionGlossedFrom(bridged));
    const fusedScore = alpha * lexN + (1 - alpha) * (trust * latN + (1 - trust) * lexN);
    const [scored] = rerank([{ doc, score: fusedScore }], { query: p.query, pathOf: () => c.path, symbolOf: () => c.symbol, codeRoot: () => root.codeRoot, ...this.o.rerank });
    return {
      query: p.query,
      hit: await this.hit(root, s, doc, scored!.score, latent, new Map(), wordWeights(s, words)),
      latents: lat.map((c) => {
        const id = Number(c.term.slice(LATENT_PREFIX.length));
        return { id, label: this.o.encoder.labels?.[id] ?? "", weight: round(c.contribution), queryWeight: round(weights.get(c.term) ?? 0), chunkWeight: round(c.value) };
      }),
      lexical: lex.map((c) => ({ term: c.term.slice(LEXICAL_PREFIX.length), tf: c.value, contribution: round(c.contribution) })),
      lexicalScore: round(lexicalScore),
      latentScore: round(latentScore),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
