// Where index files live. The index only ever writes whole new files (write-once), renames one
// temp file over the manifest, and deletes files no manifest names; a Directory is exactly
// those operations, so the same index code runs on the real file system and on the in-memory
// twin the unit tests use.
import { open, readdir, readFile, rename, rm, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, LoupeError, takePidLock } from "@loupe/protocol";

export interface Directory {
  /** Where the files are, for messages. */
  readonly location: string;
  list(): Promise<string[]>;
  /** The whole file; throws INDEX_CORRUPT naming the file when it is missing. */
  read(name: string): Promise<Buffer>;
  /** Creates `name` with `parts` and makes its content durable (fsync) before resolving. Refuses to overwrite. */
  write(name: string, parts: readonly Uint8Array[]): Promise<void>;
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes `name`; a missing file is not an error. */
  remove(name: string): Promise<void>;
  /** Makes the folder's entries (creates, renames, deletes) durable. */
  sync(): Promise<void>;
  /**
   * Takes the folder's single-writer lock; resolves to its release. Throws INDEX_LOCKED while
   * another writer (another process, or another open Index in this one) holds it.
   */
  lock(): Promise<() => Promise<void>>;
}

/** The writer lock's file name; the index never treats it (or its takeover guard) as garbage. */
export const LOCK_FILE = "writer.lock";
export const LOCK_FILES: ReadonlySet<string> = new Set([LOCK_FILE, `${LOCK_FILE}.takeover`]);

function locked(location: string, pid: number): LoupeError {
  return new LoupeError(
    ErrorCode.IndexLocked,
    `the index ${location} is open for writing ${pid === process.pid ? "already, in this process" : `in another process${pid > 0 ? ` (pid ${pid})` : ""}`}; only one Loupe daemon may use a cache folder at a time (stop the other with \`loupe daemon stop\`, or give this one its own LOUPE_CACHE_DIR)`,
  );
}

function missing(location: string, name: string): LoupeError {
  return new LoupeError(
    ErrorCode.IndexCorrupt,
    `index file ${name} is missing from ${location}; delete the index folder and run \`loupe reindex\` to rebuild it`,
  );
}

export class FsDirectory implements Directory {
  private constructor(readonly location: string) {}

  static async open(path: string): Promise<FsDirectory> {
    await mkdir(path, { recursive: true });
    return new FsDirectory(path);
  }

  list(): Promise<string[]> {
    return readdir(this.location);
  }

  async read(name: string): Promise<Buffer> {
    try {
      return await readFile(join(this.location, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw missing(this.location, name);
      throw e;
    }
  }

  async write(name: string, parts: readonly Uint8Array[]): Promise<void> {
    const file = await open(join(this.location, name), "wx");
    try {
      // writev takes a bounded number of buffers per call on some platforms; go in groups.
      for (let i = 0; i < parts.length; i += 512) await file.writev(parts.slice(i, i + 512) as Uint8Array[]);
      await file.sync();
    } finally {
      await file.close();
    }
  }

  rename(from: string, to: string): Promise<void> {
    return rename(join(this.location, from), join(this.location, to));
  }

  remove(name: string): Promise<void> {
    return rm(join(this.location, name), { force: true });
  }

  /** Held locks of this process, by folder: a second writer in the same process is refused too. */
  private static readonly held = new Set<string>();

  async lock(): Promise<() => Promise<void>> {
    if (FsDirectory.held.has(this.location)) throw locked(this.location, process.pid);
    FsDirectory.held.add(this.location);
    try {
      const release = await takePidLock(join(this.location, LOCK_FILE), (pid) => locked(this.location, pid));
      return async () => {
        await release();
        FsDirectory.held.delete(this.location);
      };
    } catch (e) {
      FsDirectory.held.delete(this.location);
      throw e;
    }
  }

  async sync(): Promise<void> {
    const dir = await open(this.location, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** The in-memory twin: same contract, no durability questions. Tests reach `files` to damage them. */
export class MemoryDirectory implements Directory {
  readonly location = "(memory)";
  readonly files = new Map<string, Buffer>();

  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }

  async read(name: string): Promise<Buffer> {
    const f = this.files.get(name);
    if (!f) throw missing(this.location, name);
    return f;
  }

  async write(name: string, parts: readonly Uint8Array[]): Promise<void> {
    if (this.files.has(name)) throw new Error(`${name} exists; index files are written once`);
    // Copied into one 8-byte-aligned buffer, like a fresh file read.
    this.files.set(name, Buffer.concat(parts));
  }

  async rename(from: string, to: string): Promise<void> {
    const f = this.files.get(from);
    if (!f) throw new Error(`rename: ${from} does not exist`);
    this.files.delete(from);
    this.files.set(to, f);
  }

  async remove(name: string): Promise<void> {
    this.files.delete(name);
  }

  async sync(): Promise<void> {}

  private isLocked = false;

  async lock(): Promise<() => Promise<void>> {
    if (this.isLocked) throw locked(this.location, process.pid);
    this.isLocked = true;
    return async () => {
      this.isLocked = false;
    };
  }
}
