// The indexing pipeline of one workspace root: read → chunk → (known vectors) → index → commit,
// then the latent vectors of what was committed without them. It owns the root's index and its
// table of indexed files (size, mtime, content hash), which rides in the index manifest's commit
// data, so files and chunks can never disagree after a crash: a killed daemon restarts from the
// last commit and a walk (size + mtime, then content hash) finds whatever changed since. When
// and in what batches it runs is RootIndex's business (root-index.ts); nothing here watches,
// waits or schedules.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, isLoupeError } from "@loupe/protocol";
import { ANALYZER_VERSION } from "../analysis/analyzer.js";
import { chunkReading, type LexicalAnalyzer } from "../analysis/bridge.js";
import { CHUNKER_VERSION, chunkFile, DEFAULT_LIMITS, type ChunkLimits, type SymbolChunk } from "../chunk/index.js";
import { fileKind, isDocumentation, languageOf } from "../file-types.js";
import { FsDirectory } from "../index/directory.js";
import { Index, type Searcher } from "../index/index.js";
import { DEFAULT_MERGE_POLICY, type MergePolicy } from "../index/merge-policy.js";
import type { ChunkMeta } from "../index/segment-writer.js";
import { DOC_ID_U16_LIMIT } from "../index/serializer.js";
import type { SparseVector } from "../sparse-vector.js";
import { DEFAULT_MAX_FILE_BYTES, readWorkspaceFile, RulesCache, walkWorkspace } from "../workspace/ignore.js";
import type { ChunkEncoder } from "./chunk-encoder.js";
import { ChunkTextReader, sha, sliceChunk } from "./chunk-text.js";
import type { VectorCache } from "./vector-cache.js";

export interface PipelineOptions {
  root: string;
  indexDir: string;
  encoder: ChunkEncoder;
  /**
   * Chunks' lexical terms (the bridge adds English translations to notes in bridged languages).
   * A promise: opening a root (and answering its add) does not wait for the bridge to load
   * (~0.4 s), only its first indexed batch does.
   */
  lexical: Promise<LexicalAnalyzer>;
  vectors: VectorCache;
  log?: (line: string) => void;
  maxFileBytes?: number;
  /** Chunk size limits; default DEFAULT_LIMITS (60 lines / 1,500 characters). */
  chunkLimits?: ChunkLimits;
}

interface FileEntry {
  size: number;
  mtimeMs: number;
  hash: string;
}

/**
 * Chunks per encoder call in phase 2. The daemon's encoder runs 8 windows at a time anyway, so a
 * slice of 32 chunks (~100 windows) is still a dozen full runs, and a closing root stops after
 * the slice in hand.
 */
const ENCODE_SLICE = 32;
/**
 * Files whose latent vectors one phase-2 commit brings. Small, because changes wait for the
 * batch in hand: 16 files of code are about 50 chunks, some seconds of encoding on 2 cores.
 */
const LATENT_BATCH_FILES = 16;
/**
 * When phase 2 empties after at least this many files, small segments are merged pairwise until
 * no two fit in 65,536 chunks (the most that keep 16-bit doc ids). Edits stay on the default
 * policy: a compaction rewrites each chunk of a 10k-chunk root about 3 times (a few seconds).
 */
const COMPACT_AFTER_FILES = 256;
const COMPACT_POLICY: MergePolicy = { ...DEFAULT_MERGE_POLICY, factor: 2, minDocs: DOC_ID_U16_LIMIT, maxDocs: DOC_ID_U16_LIMIT };
const EMPTY_VECTOR: SparseVector = { ids: new Uint32Array(0), weights: new Float32Array(0) };

/**
 * Lets waiting requests run between files: reading, chunking and analysing are synchronous, and
 * a batch of them held searches for 100–300 ms (measured on vuejs/core + fastify).
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Commit data layout version; a mismatch rebuilds the file table from a rescan. */
const TABLE_VERSION = 1;

export class RootPipeline {
  /** Chunks encoded vs reused since start (cache or index), and commits, for tests and benchmarks. */
  readonly counters = { encoded: 0, reused: 0, commits: 0 };
  /** The root's ignore rules, as indexing and the watcher apply them. */
  readonly rules: RulesCache;
  /**
   * Whether this root is a code repository rather than a notes vault: source files are at least
   * a quarter of its source and documentation files (search then ranks its documentation below
   * its code, see search/rerank.ts); recounted whenever phase 1 changes the file set.
   */
  codeRoot = false;
  private files = new Map<string, FileEntry>();
  /** Files committed lexically whose latent vectors are still to be computed (phase 2). */
  private latentPending = new Set<string>();
  /** Known files chunked by another CHUNKER_VERSION, to chunk again even though unchanged. */
  private rechunk = new Set<string>();
  /** Files phase 2 has encoded since the last compaction (see COMPACT_AFTER_FILES). */
  private encodedSinceCompaction = 0;
  private readonly log: (line: string) => void;

  private constructor(
    readonly root: string,
    private readonly index: Index,
    private readonly o: PipelineOptions,
  ) {
    this.rules = new RulesCache(root);
    this.log = o.log ?? (() => {});
    this.loadTable();
  }

  /**
   * Opens (or creates) the index of `root`. An index the current Loupe cannot use (another model
   * pack, another format or analyzer version, or corrupt) holds only derived data: it is deleted
   * and rebuilt from the files, and the reason is logged.
   */
  static async open(o: PipelineOptions): Promise<RootPipeline> {
    const options = { pack: o.encoder.fingerprint, analyzer: ANALYZER_VERSION };
    let index: Index;
    try {
      index = await Index.open(await FsDirectory.open(o.indexDir), options);
    } catch (e) {
      // A locked index belongs to another writer: never delete it, say so.
      if (!isLoupeError(e) || e.code === ErrorCode.IndexLocked) throw e;
      o.log?.(`${o.root}: ${e.message.split(";")[0]} — rebuilding the index from the files`);
      await rm(o.indexDir, { recursive: true, force: true });
      index = await Index.open(await FsDirectory.open(o.indexDir), options);
    }
    return new RootPipeline(o.root, index, o);
  }

  searcher(): Searcher {
    return this.index.searcher();
  }

  /** Indexed files. */
  get fileCount(): number {
    return this.files.size;
  }

  /** Indexed paths under `prefix/`. */
  pathsUnder(prefix: string): string[] {
    return [...this.files.keys()].filter((p) => p.startsWith(`${prefix}/`));
  }

  /** Files whose latent vectors are in the index, of all indexed files. */
  get latent(): { ready: number; total: number } {
    return { ready: this.files.size - this.latentPending.size, total: this.files.size };
  }

  /** Are some files in the index still without their latent vectors (phase 2 has work)? */
  get latentBacklog(): boolean {
    return this.latentPending.size > 0;
  }

  /** Is `path` in the index without (some of) its latent vectors yet? Search scores such chunks lexically. */
  latentMissing(path: string): boolean {
    return this.latentPending.has(path);
  }

  /**
   * Compares the root's files with the table: the paths to index again (changed, new, removed,
   * or chunked by another chunker version), and how many were unchanged and skipped.
   */
  async walk(): Promise<{ work: string[]; unchanged: number; skipped: number }> {
    const { files, skipped } = await walkWorkspace(this.root, {
      maxFileBytes: this.o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      unchanged: (path, size, mtimeMs) => {
        const e = this.files.get(path);
        return e !== undefined && e.size === size && e.mtimeMs === mtimeMs && !this.rechunk.has(path);
      },
    });
    const seen = new Set(files.map((f) => f.path));
    const work = files.filter((f) => !f.unchanged).map((f) => f.path);
    for (const path of this.files.keys()) if (!seen.has(path)) work.push(path);
    return { work, unchanged: files.filter((f) => f.unchanged).length, skipped: skipped.length };
  }

  /** Forgets every file (the next walk indexes them all again), in one commit. */
  async clear(): Promise<void> {
    for (const path of this.files.keys()) this.index.deletePath(path);
    this.files.clear();
    this.latentPending.clear();
    await this.commit();
    this.countKinds();
  }

  close(): Promise<void> {
    return this.index.close();
  }

  private countKinds(): void {
    let code = 0, docs = 0;
    for (const path of this.files.keys()) {
      if (fileKind(path) === "code") code++;
      else if (isDocumentation(path)) docs++;
    }
    this.codeRoot = code > 0 && code * 4 >= code + docs;
  }

  private loadTable(): void {
    // Entries are [path, size, mtime, hash] plus 0 when the file's latent vectors are pending
    // (written that way so tables of earlier versions read as complete).
    const data = this.index.commitData as { v?: number; chunker?: number | null; files?: Array<[string, number, number, string, 0?]> } | null;
    if (data?.v !== TABLE_VERSION || !Array.isArray(data.files)) return;
    for (const [path, size, mtimeMs, hash, latent] of data.files) {
      this.files.set(path, { size, mtimeMs, hash });
      if (latent === 0) this.latentPending.add(path);
    }
    this.countKinds();
    // Tables written before the chunker version was recorded hold version 1's chunks.
    if ((data.chunker ?? 1) !== CHUNKER_VERSION) {
      this.rechunk = new Set(this.files.keys());
      this.log(`${this.root}: chunked by chunker version ${data.chunker ?? 1}; chunking ${this.rechunk.size} files again with version ${CHUNKER_VERSION} (unchanged chunks keep their vectors)`);
    }
  }

  /**
   * Phase 1: brings these paths' index entries in line with the files now on disk, in one commit,
   * without encoding: a chunk whose vector is known (the cache, or the old index entry with the
   * same content hash) gets it, the others go in with an empty one and their file joins
   * `latentPending` for phase 2. So a changed file is searchable by its words at once.
   */
  async apply(paths: string[]): Promise<void> {
    const lexical = await this.o.lexical;
    const searcher = this.index.searcher();
    const updates: Array<{ path: string; entry: FileEntry; text: string }> = [];
    const removed: string[] = [];
    for (const path of paths) {
      const known = this.files.get(path);
      const reason = this.rules.check(path, false);
      if (reason) {
        if (known) removed.push(path);
        continue;
      }
      const r = await readWorkspaceFile(join(this.root, path), this.o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
      if ("skip" in r) {
        if (!r.gone) this.log(`${this.root}: skipped ${path}: ${r.skip}`);
        if (known) removed.push(path);
        continue;
      }
      const hash = sha(r.text!);
      if (known && known.hash === hash && !this.rechunk.has(path)) {
        this.files.set(path, { size: r.size, mtimeMs: r.mtimeMs, hash });
        continue;
      }
      updates.push({ path, entry: { size: r.size, mtimeMs: r.mtimeMs, hash }, text: r.text! });
    }
    if (updates.length === 0 && removed.length === 0) return;

    const limits = this.o.chunkLimits ?? DEFAULT_LIMITS;
    const chunked: Array<(typeof updates)[number] & { chunks: Array<SymbolChunk & { hash: string }> }> = [];
    for (const u of updates) {
      chunked.push({ ...u, chunks: (await chunkFile(u.path, u.text, limits)).map((c) => ({ ...c, hash: sha(c.text) })) });
      await yieldToEventLoop();
    }
    // Vectors already in the index, by chunk hash: the changed files' old chunks, and those of
    // files removed in this batch (a rename or move is a remove and an add: nothing re-encodes).
    const oldByHash = new Map<string, number>();
    for (const path of [...chunked.map((u) => u.path), ...removed]) {
      if (!this.files.has(path)) continue;
      for (const doc of searcher.docsOfPath(path)) oldByHash.set(searcher.chunk(doc).hash, doc);
    }
    const vectors = new Map<string, SparseVector>();
    for (const u of chunked) {
      for (const c of u.chunks) {
        if (vectors.has(c.hash)) continue;
        const cached = this.o.vectors.get(c.hash);
        const old = oldByHash.get(c.hash);
        // An old entry may itself be waiting for its vector (empty): then it is not known yet.
        const oldVector = old === undefined ? undefined : searcher.latentVector(old);
        const v = cached ?? (oldVector && oldVector.ids.length > 0 ? oldVector : undefined);
        if (v) {
          vectors.set(c.hash, v);
          this.counters.reused++;
        }
      }
    }

    for (const path of removed) {
      this.index.deletePath(path);
      this.files.delete(path);
      this.rechunk.delete(path);
      this.latentPending.delete(path);
    }
    for (const u of chunked) {
      this.index.deletePath(u.path);
      const language = languageOf(u.path);
      const prose = fileKind(u.path) === "notes";
      if (prose) await lexical.prepare(u.chunks.map((c) => c.text));
      let complete = true;
      for (const c of u.chunks) {
        const latent = vectors.get(c.hash);
        if (!latent) complete = false;
        await this.index.add({
          path: u.path, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol, hash: c.hash,
          ...(c.startCol !== undefined ? { startCol: c.startCol, endCol: c.endCol! } : {}),
          root: this.root, language, ...chunkReading(lexical, c.text, prose, this.o.encoder),
          lexical: lexical.chunk(u.path, c.text, prose),
          latent: latent ?? EMPTY_VECTOR,
        });
      }
      await yieldToEventLoop();
      this.files.set(u.path, u.entry);
      this.rechunk.delete(u.path);
      if (complete) this.latentPending.delete(u.path);
      else this.latentPending.add(u.path);
    }
    await this.commit();
    this.countKinds(); // phase 1 is where the file set changes
  }

  /**
   * Phase 2: computes the latent vectors of a few files committed without them and rewrites
   * their chunks with the vectors, in one commit. Works from the chunks in the index, their texts
   * read back from the files; a file changed since phase 1 is phase 1's business again (marked
   * dirty, so it is re-read and re-chunked first: those paths are returned). A restart resumes exactly here.
   */
  async encodePending(stopped: () => boolean): Promise<string[]> {
    const lexical = await this.o.lexical;
    const changed: string[] = [];
    const searcher = this.index.searcher();
    const reader = new ChunkTextReader(this.root, this.o.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
    const limits = this.o.chunkLimits ?? DEFAULT_LIMITS;
    const files: Array<{ path: string; chunks: Array<{ meta: ChunkMeta; text: string; vector: SparseVector }> }> = [];
    for (const path of [...this.latentPending].slice(0, LATENT_BATCH_FILES)) {
      const file = await reader.file(path);
      if (!file || sha(file.text) !== this.files.get(path)?.hash) {
        changed.push(path);
        continue;
      }
      // The same text chunks the same way (chunking is ~0.1% of indexing time): texts by hash.
      const byHash = new Map((await chunkFile(path, file.text, limits)).map((c) => [sha(c.text), c.text]));
      files.push({ path, chunks: searcher.docsOfPath(path).map((d) => {
        const meta = searcher.chunk(d);
        // Not expected to miss (the chunkers are deterministic); then the file's text at the
        // chunk's place is what there is to encode.
        let text = byHash.get(meta.hash);
        if (text === undefined) {
          text = sliceChunk(file.lines, meta);
          if (sha(text) !== meta.hash) this.log(`${this.root}: ${path}:${meta.startLine} re-chunks differently than when it was indexed`);
        }
        return { meta, text, vector: searcher.latentVector(d) };
      }) });
      await yieldToEventLoop();
    }
    if (files.length === 0) return changed; // every file of the batch changed: phase 1 takes them first
    const vectors = new Map<string, SparseVector>();
    /** Texts to encode, by hash (a text repeated in the batch is encoded once). */
    const missing = new Map<string, string>();
    for (const f of files) {
      const prose = fileKind(f.path) === "notes";
      if (prose) await lexical.prepare(f.chunks.map((c) => c.text));
      for (const { meta, text, vector } of f.chunks) {
        const known = vector.ids.length > 0 ? vector : this.o.vectors.get(meta.hash);
        if (known) vectors.set(meta.hash, known);
        else missing.set(meta.hash, lexical.document(text, prose, this.o.encoder.readsLanguage));
      }
    }
    const hashes = [...missing.keys()];
    const texts = [...missing.values()];
    for (let at = 0; at < texts.length && !stopped(); at += ENCODE_SLICE) {
      const encoded = await this.o.encoder.encodeDocuments(texts.slice(at, at + ENCODE_SLICE));
      encoded.forEach((v, j) => {
        vectors.set(hashes[at + j]!, v);
        this.o.vectors.set(hashes[at + j]!, v);
      });
    }
    if (stopped()) return changed;
    this.counters.encoded += missing.size;
    for (const f of files) {
      this.index.deletePath(f.path);
      const prose = fileKind(f.path) === "notes";
      for (const { meta, text } of f.chunks) {
        await this.index.add({ ...meta, lexical: lexical.chunk(meta.path, text, prose), latent: vectors.get(meta.hash) ?? EMPTY_VECTOR });
      }
      await yieldToEventLoop();
      this.latentPending.delete(f.path);
    }
    await this.commit();
    // Phase 2 rewrote every chunk phase 1 wrote: once it is done, let the merge policy drop the
    // segments that are now mostly deleted, rather than wait for the next 16 commits. After a
    // large backlog (a new root, a branch switch) compact further: every segment then repeats the
    // term dictionary (16,384 latent terms and the words), about 3 MB over 8 segments of 10k chunks.
    this.encodedSinceCompaction += files.length;
    if (this.latentPending.size === 0) {
      const compact = this.encodedSinceCompaction >= COMPACT_AFTER_FILES;
      await this.index.merge(compact ? COMPACT_POLICY : undefined);
      if (compact) this.encodedSinceCompaction = 0;
    }
    return changed;
  }

  async commit(): Promise<void> {
    const files = [...this.files].map(([p, e]) => (this.latentPending.has(p) ? [p, e.size, e.mtimeMs, e.hash, 0] : [p, e.size, e.mtimeMs, e.hash]));
    // The chunker version is recorded once no file is left to chunk again (null until then): a
    // kill before that chunks the rest (and, harmlessly, the done ones) again on the next start.
    await this.index.commit({ v: TABLE_VERSION, chunker: this.rechunk.size === 0 ? CHUNKER_VERSION : null, files });
    this.counters.commits++;
    if (this.counters.commits % 16 === 0) await this.index.merge();
  }
}
