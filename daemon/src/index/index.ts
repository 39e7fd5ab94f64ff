// The index: a set of immutable segments named by one manifest, plus one writer's pending
// changes. `add` and `deletePath` only touch memory; `commit` makes them durable and visible
// in one step; `searcher()` returns a snapshot that later commits and merges never change, so
// searches never wait for a writer. One writer opens a given folder at a time, enforced by the
// directory's writer lock (`writer.lock`, the holder's pid; a dead holder's lock is taken over):
// opening deletes every file the manifest does not name, which in a second writer would include
// the first one's not-yet-committed segments. Searchers may be many.
import { randomBytes } from "node:crypto";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { Bitmap } from "./bitmap.js";
import { LOCK_FILES, type Directory } from "./directory.js";
import { mergeSegments } from "./merge.js";
import { DEFAULT_MERGE_POLICY, pickMerges, type MergePolicy } from "./merge-policy.js";
import { decodeMeta, deletesFile, encodeMeta, filesOf, META_FILE, postFile, storeFile, type Meta, type SegmentMeta } from "./meta.js";
import { INDEX_FORMAT, PayloadReader, unseal } from "./format.js";
import { Searcher, type SegmentEntry } from "./searcher.js";
import { SegmentReader } from "./segment-reader.js";
import { SegmentBuffer, type ChunkInput, type SegmentData } from "./segment-writer.js";
import { serializeDeletes, serializePostings, serializeStore } from "./serializer.js";

export interface IndexOptions {
  /** Fingerprint of the model pack whose latents go in; null for a lexical-only index. An index of another pack is refused. */
  pack: string | null;
  /** ANALYZER_VERSION of the analyzer producing the lexical terms; an index of another version is refused. */
  analyzer: number;
  /** Buffered chunks that trigger writing a segment before commit; default 50,000 (1,000–500,000). Bounds the writer's memory (~2 KB per chunk at 400 latents). */
  maxBufferedDocs?: number;
  mergePolicy?: MergePolicy;
}

async function readSegment(dir: Directory, s: SegmentMeta): Promise<SegmentEntry> {
  const [post, store] = await Promise.all([dir.read(postFile(s.id)), dir.read(storeFile(s.id))]);
  const reader = new SegmentReader(s.id, `${dir.location}/${postFile(s.id)}`, post, `${dir.location}/${storeFile(s.id)}`, store);
  if (reader.docs !== s.docs) throw new LoupeError(ErrorCode.IndexCorrupt, `segment ${s.id} in ${dir.location} holds ${reader.docs} chunks, its manifest says ${s.docs}; delete the index folder and run \`loupe reindex\``);
  let deleted = new Bitmap();
  if (s.deletes) {
    const name = deletesFile(s.id, s.deletes.gen);
    const r = new PayloadReader(`${dir.location}/${name}`, unseal(`${dir.location}/${name}`, "DELS", await dir.read(name)));
    r.json();
    deleted = Bitmap.deserialize(r.bytes(), "portable");
    if (deleted.size !== s.deletes.count) throw new LoupeError(ErrorCode.IndexCorrupt, `${dir.location}/${name} lists ${deleted.size} deletes, the manifest ${s.deletes.count}; run \`loupe reindex\``);
  }
  return { meta: s, reader, deleted };
}

export class Index {
  private buffer = new SegmentBuffer();
  /** Buffered doc ids deleted after they were added. */
  private bufferDeleted = new Bitmap();
  /** Segments written since the last commit (flushed buffers), with their deletes. */
  private flushed: SegmentEntry[] = [];
  /** Paths deleted since the last commit, applied to committed segments at commit. */
  private pendingDeletes = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: Directory,
    private meta: Meta,
    private segments: SegmentEntry[],
    private readonly options: Required<IndexOptions>,
  ) {}

  /** Opens the index in `dir`, creating an empty one when the folder has no manifest. */
  static async open(dir: Directory, options: IndexOptions): Promise<Index> {
    const o: Required<IndexOptions> = { maxBufferedDocs: 50_000, mergePolicy: DEFAULT_MERGE_POLICY, ...options };
    const release = await dir.lock();
    try {
      const index = await Index.openLocked(dir, o);
      index.release = release;
      return index;
    } catch (e) {
      await release();
      throw e;
    }
  }

  private release: (() => Promise<void>) | null = null;

  /** Releases the writer lock once pending work is done; uncommitted changes are dropped. Searchers stay usable. */
  async close(): Promise<void> {
    await this.exclusive(async () => {});
    await this.release?.();
    this.release = null;
  }

  private static async openLocked(dir: Directory, o: Required<IndexOptions>): Promise<Index> {
    const names = await dir.list();
    let meta: Meta;
    if (!names.includes(META_FILE)) {
      meta = { format: INDEX_FORMAT, generation: 0, pack: o.pack, analyzer: o.analyzer, segments: [], commitData: null };
    } else {
      meta = decodeMeta(dir.location, await dir.read(META_FILE));
      if (meta.pack !== o.pack) {
        throw new LoupeError(
          ErrorCode.IndexPackMismatch,
          `index ${dir.location} was built with model pack ${meta.pack ?? "(none: lexical only)"}; this Loupe uses ${o.pack ?? "(none)"}. ` +
            "Vectors of two packs cannot be mixed: run `loupe reindex` to rebuild the index with the current pack",
        );
      }
      if (meta.analyzer !== o.analyzer) {
        throw new LoupeError(ErrorCode.IndexVersion, `index ${dir.location} was built with analyzer version ${meta.analyzer}; this Loupe has version ${o.analyzer}. Run \`loupe reindex\``);
      }
    }
    const segments = await Promise.all(meta.segments.map((s) => readSegment(dir, s)));
    const index = new Index(dir, meta, segments, o);
    await index.cleanup(names);
    return index;
  }

  /** The last commit's generation (0 before the first) and the data attached to it. */
  get generation(): number {
    return this.meta.generation;
  }
  get commitData(): Record<string, unknown> | null {
    return this.meta.commitData;
  }

  /** A snapshot of the committed index; unaffected by later commits and merges. */
  searcher(): Searcher {
    return new Searcher(this.segments);
  }

  /** Buffers a chunk; visible after the next commit. */
  async add(chunk: ChunkInput): Promise<void> {
    this.buffer.add(chunk);
    if (this.buffer.docs >= this.options.maxBufferedDocs) await this.exclusive(() => this.flush());
  }

  /** Deletes every chunk with this path (committed, or added before this call); takes effect at commit. */
  deletePath(path: string): void {
    this.pendingDeletes.add(path);
    this.buffer.chunks.forEach((c, doc) => {
      if (c.path === path) this.bufferDeleted.add(doc);
    });
    for (const f of this.flushed) {
      f.deleted = Bitmap.or(f.deleted, f.reader.docsOfPath(path));
    }
  }

  /** Makes every add and delete so far durable and visible, atomically. */
  commit(commitData: Record<string, unknown> | null = null): Promise<void> {
    return this.exclusive(async () => {
      await this.flush();
      const gen = this.meta.generation + 1;
      const deleteWrites: Array<Promise<void>> = [];
      const next: SegmentEntry[] = [];
      for (const e of this.segments) {
        let deleted = e.deleted;
        for (const path of this.pendingDeletes) {
          const hit = e.reader.docsOfPath(path);
          if (hit.size > 0) deleted = Bitmap.or(deleted, hit);
        }
        if (deleted.size === e.deleted.size) next.push(e);
        else next.push(this.withDeletes(e, deleted, gen, deleteWrites));
      }
      for (const f of this.flushed) next.push(f.deleted.size > 0 ? this.withDeletes(f, f.deleted, gen, deleteWrites) : f);
      await Promise.all(deleteWrites);
      await this.publish({ ...this.meta, format: INDEX_FORMAT, generation: gen, segments: next.map((e) => e.meta), commitData }, next);
      this.flushed = [];
      this.pendingDeletes.clear();
    });
  }

  /** Runs the merge policy until it picks nothing, committing each merge. Searchers keep their snapshots meanwhile. */
  merge(policy: MergePolicy = this.options.mergePolicy): Promise<number> {
    return this.exclusive(async () => {
      let merges = 0;
      for (;;) {
        const groups = pickMerges(this.segments.map((e) => ({ docs: e.reader.docs, deleted: e.deleted.size })), policy);
        if (groups.length === 0) return merges;
        // Resolve positions to segments first: each publish below changes the list.
        for (const members of groups.map((g) => g.map((i) => this.segments[i]!))) {
          const merged = mergeSegments(members);
          const entry = merged.docs > 0 ? await this.writeSegment(merged) : null;
          const next: SegmentEntry[] = [];
          this.segments.forEach((e) => {
            if (e === members[0] && entry) next.push(entry);
            else if (!members.includes(e)) next.push(e);
          });
          await this.publish({ ...this.meta, format: INDEX_FORMAT, generation: this.meta.generation + 1, segments: next.map((e) => e.meta) }, next);
          merges++;
        }
      }
    });
  }

  private withDeletes(e: SegmentEntry, deleted: Bitmap, gen: number, writes: Array<Promise<void>>): SegmentEntry {
    writes.push(this.dir.write(deletesFile(e.meta.id, gen), serializeDeletes(e.reader.docs, deleted)));
    return { meta: { ...e.meta, deletes: { gen, count: deleted.size } }, reader: e.reader, deleted };
  }

  private async exclusive<T>(body: () => Promise<T>): Promise<T> {
    const run = this.lock.then(body, body);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Writes the buffer as a new (not yet committed) segment. */
  private async flush(): Promise<void> {
    if (this.buffer.docs === 0) return;
    const data = this.buffer.build();
    const deleted = this.bufferDeleted;
    this.buffer = new SegmentBuffer();
    this.bufferDeleted = new Bitmap();
    const entry = await this.writeSegment(data);
    this.flushed.push({ ...entry, deleted });
  }

  private async writeSegment(data: SegmentData): Promise<SegmentEntry> {
    const id = `s${(this.meta.generation + 1).toString(36)}_${randomBytes(4).toString("hex")}`;
    const post = serializePostings(data);
    const store = serializeStore(data);
    await Promise.all([this.dir.write(postFile(id), post), this.dir.write(storeFile(id), store)]);
    const reader = new SegmentReader(id, postFile(id), Buffer.concat(post), storeFile(id), Buffer.concat(store));
    return { meta: { id, docs: data.docs, deletes: null }, reader, deleted: new Bitmap() };
  }

  /** The commit point: manifest to a temp name, fsync, rename over the manifest, fsync the folder; then drop unnamed files. */
  private async publish(meta: Meta, segments: SegmentEntry[]): Promise<void> {
    const temp = `${META_FILE}.${meta.generation}.tmp`;
    await this.dir.remove(temp);
    await this.dir.write(temp, encodeMeta(meta));
    await this.dir.rename(temp, META_FILE);
    await this.dir.sync();
    this.meta = meta;
    this.segments = segments;
    await this.cleanup(await this.dir.list());
  }

  /** Deletes files no manifest names (left by an interrupted commit or merge, or superseded). Pending flushed segments are kept. */
  private async cleanup(names: readonly string[]): Promise<void> {
    const keep = filesOf(this.meta);
    for (const l of LOCK_FILES) keep.add(l);
    for (const f of this.flushed) {
      keep.add(postFile(f.meta.id));
      keep.add(storeFile(f.meta.id));
    }
    for (const n of names) if (!keep.has(n)) await this.dir.remove(n);
  }
}

export { Searcher } from "./searcher.js";
export type { ChunkInput, ChunkMeta } from "./segment-writer.js";
