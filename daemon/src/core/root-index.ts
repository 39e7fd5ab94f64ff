// One workspace root kept in sync with its on-disk index: the scheduling half. The watcher and
// the start-up scan only mark root-relative paths dirty; one drain loop at a time takes dirty
// paths in batches and hands them to the pipeline (root-pipeline.ts: read, chunk, index, commit),
// then, when no change is waiting, lets the pipeline compute latent vectors a small batch at a
// time, so an edit never waits for more than one batch of encoding. It keeps the state, the
// progress and the waiters that clients see.
import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { RootState, RootStatus } from "@loupe/protocol";
import type { Searcher } from "../index/index.js";
import { IGNORE_FILES } from "../workspace/ignore.js";
import { RootPipeline, type PipelineOptions } from "./root-pipeline.js";

export interface RootIndexOptions extends PipelineOptions {
  /** Watch for changes after the first scan; default true (`loupe eval --workspace` indexes once). */
  watch?: boolean;
  /** Quiet time after the last event before a batch is taken; default ROOT_DEFAULTS.debounceMs. */
  debounceMs?: number;
  /** Changed files per commit; default ROOT_DEFAULTS.batchFiles (bounds how stale search is while a large tree indexes). */
  batchFiles?: number;
  /** Dirty paths kept before falling back to a full rescan (bounded memory during huge bursts); default 20,000. */
  maxDirty?: number;
  /** With watching: a full reconcile this often, in case the watcher missed an event; default 5 minutes. */
  rescanIntervalMs?: number;
  /** Called whenever the status changes meaningfully (progress, state). */
  onChange?: (status: RootIndexStatus) => void;
}

/** A root's status as its index knows it; the core adds whether the root is saved or a session's. */
export type RootIndexStatus = Omit<RootStatus, "lifetime">;

/** Defaults of RootIndexOptions, in one place: quiet time before a batch of watcher events is applied, files per phase-1 batch. */
export const ROOT_DEFAULTS = { debounceMs: 25, batchFiles: 64, maxDirty: 20_000, rescanIntervalMs: 5 * 60_000 } as const;

export class RootIndex {
  state: RootState = "scanning";
  lastError: string | null = null;
  skipped = 0;
  progress: { done: number; total: number } | null = null;

  private dirty = new Set<string>();
  private rescan = true;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly log: (line: string) => void;
  private readonly debounceMs: number;

  private constructor(
    private readonly pipeline: RootPipeline,
    private readonly o: RootIndexOptions,
  ) {
    this.log = o.log ?? (() => {});
    this.debounceMs = o.debounceMs ?? ROOT_DEFAULTS.debounceMs;
  }

  /** Opens (or creates, or rebuilds) the root's index; `start` begins watching and indexing. */
  static async open(o: RootIndexOptions): Promise<RootIndex> {
    return new RootIndex(await RootPipeline.open(o), o);
  }

  get root(): string {
    return this.pipeline.root;
  }

  /** Chunks encoded vs reused since start, and commits, for tests and benchmarks. */
  get counters(): { encoded: number; reused: number; commits: number } {
    return this.pipeline.counters;
  }

  /** Whether this root is a code repository rather than a notes vault (see RootPipeline.codeRoot). */
  get codeRoot(): boolean {
    return this.pipeline.codeRoot;
  }

  /** Starts watching (unless disabled) and schedules the start-up scan. */
  async start(): Promise<void> {
    if (this.o.watch !== false) {
      await this.startWatcher();
      // A safety net under the watcher: a periodic reconcile (stat only for unchanged files)
      // heals any event the OS or the watcher dropped.
      this.rescanTimer = setInterval(() => {
        this.rescan = true;
        this.kick(0);
      }, this.o.rescanIntervalMs ?? ROOT_DEFAULTS.rescanIntervalMs);
      this.rescanTimer.unref();
    }
    this.rescan = true;
    this.kick(0);
  }

  searcher(): Searcher {
    return this.pipeline.searcher();
  }

  get indexDir(): string {
    return this.o.indexDir;
  }

  status(indexBytes: number): RootIndexStatus {
    return {
      root: this.root,
      state: this.state,
      files: this.pipeline.fileCount,
      chunks: this.pipeline.searcher().liveDocs,
      latent: this.latent,
      skipped: this.skipped,
      pending: this.dirty.size,
      progress: this.progress,
      indexBytes,
      indexDir: this.o.indexDir,
      lastError: this.lastError,
    };
  }

  /** True while the start-up scan, a batch of changes or latent vectors are in progress or queued. */
  get busy(): boolean {
    return this.draining !== null || this.queued();
  }

  /** Work waiting besides a drain in progress. */
  private queued(): boolean {
    return this.dirty.size > 0 || this.rescan || this.timer !== null || this.pipeline.latentBacklog;
  }

  /** Files whose latent vectors are in the index, of all indexed files. */
  get latent(): { ready: number; total: number } {
    return this.pipeline.latent;
  }

  /** Is `path` in the index without (some of) its latent vectors yet? Search scores such chunks lexically. */
  latentMissing(path: string): boolean {
    return this.pipeline.latentMissing(path);
  }

  /** Resolves when no change is queued or being processed. */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets the index and indexes every file again. */
  async reindex(): Promise<void> {
    await this.draining;
    await this.pipeline.clear();
    this.rescan = true;
    this.kick(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.watcher?.close();
    await this.draining;
    await this.pipeline.close();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  // --- watching -------------------------------------------------------------------------------

  private rel(abs: string): string {
    return relative(this.root, abs).split(sep).join("/");
  }

  private async startWatcher(): Promise<void> {
    const rules = this.pipeline.rules;
    const watcher = watch(this.root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (abs, stats) => {
        const rel = this.rel(abs);
        if (rel === "" || rel.startsWith("..")) return false;
        try {
          return rules.check(rel, stats?.isDirectory() ?? false) !== null;
        } catch {
          return false;
        }
      },
    });
    watcher.on("all", (event, abs) => this.onEvent(event, this.rel(abs)));
    watcher.on("error", (e) => {
      // A folder the watcher could not watch (permissions, inotify limits) may hide changes:
      // note it and reconcile by a walk, which sees what events would have said.
      this.lastError = `watcher: ${(e as Error).message}`;
      this.log(`${this.root}: watcher error: ${(e as Error).message}; rescanning`);
      this.rescan = true;
      this.kick(this.debounceMs);
    });
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    this.watcher = watcher;
  }

  private onEvent(event: string, rel: string): void {
    if (this.closed || rel === "" || rel.startsWith("..")) return;
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (IGNORE_FILES.includes(name)) {
      // Rules changed: what is indexed may change anywhere below; rescan (cheap: size + mtime).
      this.pipeline.rules.clear();
      this.rescan = true;
    }
    if (event === "unlinkDir") {
      for (const path of this.pipeline.pathsUnder(rel)) this.markDirty(path);
    } else if (event !== "addDir") {
      this.markDirty(rel);
    }
    this.kick(this.debounceMs);
  }

  private markDirty(rel: string): void {
    if (this.dirty.size >= (this.o.maxDirty ?? ROOT_DEFAULTS.maxDirty)) {
      // A burst larger than we keep paths for: forget them and rescan everything instead.
      this.dirty.clear();
      this.rescan = true;
      return;
    }
    this.dirty.add(rel);
  }

  /** Schedules a drain after `delay` ms of quiet (a new event restarts the wait). */
  private kick(delay: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
      else this.kick(delay); // a drain is running: it picks up the new paths before it ends
    }, delay);
  }

  // --- draining -------------------------------------------------------------------------------

  private async drain(): Promise<void> {
    const batchFiles = this.o.batchFiles ?? ROOT_DEFAULTS.batchFiles;
    try {
      // Changes first (they are cheap: read, chunk, lexical terms), latent vectors after.
      while (!this.closed && (this.rescan || this.dirty.size > 0 || this.pipeline.latentBacklog)) {
        if (this.rescan) {
          this.rescan = false;
          await this.scan(batchFiles);
        } else if (this.dirty.size > 0) {
          const batch = [...this.dirty].slice(0, batchFiles);
          for (const p of batch) this.dirty.delete(p);
          await this.pipeline.apply(batch);
        } else {
          this.state = "indexing";
          this.progress = null; // phase 1 is done; `latent` in the status tells phase 2's progress
          // Files changed since phase 1 committed them go back to phase 1 first.
          for (const path of await this.pipeline.encodePending(() => this.closed)) this.markDirty(path);
          this.o.onChange?.(this.status(0));
        }
      }
      this.state = this.o.watch === false ? "idle" : "watching";
      this.progress = null;
    } catch (e) {
      this.state = "error";
      this.lastError = (e as Error).message;
      this.log(`${this.root}: indexing failed: ${(e as Error).message}`);
    } finally {
      this.o.onChange?.(this.status(0));
      if (!this.queued()) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** The start-up (or after rule changes) reconcile: walk, then index what differs from the table, a batch per commit. */
  private async scan(batchFiles: number): Promise<void> {
    // A periodic or rules-triggered rescan of an up-to-date root keeps saying "watching" unless it finds work.
    if (this.state !== "watching") this.state = "scanning";
    const { work, unchanged, skipped } = await this.pipeline.walk();
    this.skipped = skipped;
    if (work.length === 0) return;
    this.state = "indexing";
    this.progress = { done: 0, total: work.length };
    this.log(`${this.root}: ${work.length} changed or removed files to index (${unchanged} unchanged, ${skipped} skipped)`);
    for (let i = 0; i < work.length && !this.closed; i += batchFiles) {
      const batch = work.slice(i, i + batchFiles);
      for (const p of batch) this.dirty.delete(p);
      await this.pipeline.apply(batch);
      this.progress = { done: Math.min(i + batchFiles, work.length), total: work.length };
      this.o.onChange?.(this.status(0));
    }
  }
}
