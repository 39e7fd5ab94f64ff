// The daemon's saved roots: the folders users added for good, as the core serves them and as
// roots.json remembers them. A remembered root that cannot be opened now (an unmounted disk)
// stays remembered and shows in status with why, so a fault never costs the user a root.
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import type { RootStatus } from "@loupe/protocol";
import { Loupe } from "../core/loupe.js";
import type { RootIndex } from "../core/root-index.js";
import type { RootsFile } from "./roots-file.js";

export class SavedRoots {
  /** Remembered roots that could not be reopened, with why. */
  private readonly unopened = new Map<string, string>();
  lastError: string | null = null;

  constructor(
    private readonly file: RootsFile,
    private readonly loupe: Loupe,
    private readonly cacheDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Reopens the roots of the last run (their indexes are reconciled, not rebuilt), one at a time, until `stopping()`. */
  async reopen(stopping: () => boolean): Promise<void> {
    for (const root of this.file.list()) {
      if (stopping()) break;
      if (!this.file.has(root)) continue; // removed while we were reopening the others
      try {
        const r = await this.loupe.addRoot(root);
        // Opened under another name (a symbolic link retargeted): remember what it resolves to now.
        if (r.root !== root) {
          await this.file.remove(root);
          await this.file.add(r.root);
        }
      } catch (e) {
        if (!this.loupe.savedRoots().includes(root)) this.unopened.set(root, (e as Error).message);
        this.lastError = `${root}: ${(e as Error).message}`;
        this.log(`could not reopen root ${root}: ${(e as Error).message}`);
      }
    }
  }

  /** Adds a root for good: served now and remembered (durably) before the answer. */
  async add(root: string): Promise<RootIndex> {
    const r = await this.loupe.addRoot(root);
    await this.file.add(r.root);
    this.unopened.delete(r.root);
    return r;
  }

  /** Removes a root and its index; NOT_FOUND for a folder that is not a root. */
  async remove(path: string): Promise<void> {
    // A remembered root that never reopened is forgotten by its path as listed.
    const listed = [path, resolve(path)].find((r) => this.file.has(r) && !this.loupe.savedRoots().includes(r));
    if (listed) {
      this.unopened.delete(listed);
      await this.file.remove(listed);
      await rm(Loupe.indexDirFor(this.cacheDir, listed), { recursive: true, force: true });
      return;
    }
    const root = await this.loupe.removeRoot(path);
    await this.file.remove(root);
    this.log(`removed root ${root} and its index`);
  }

  /** Status of the remembered roots that are not open: not reopened yet, or failed to. */
  notOpen(): RootStatus[] {
    return this.file.list().filter((r) => !this.loupe.savedRoots().includes(r)).map((root) => {
      const why = this.unopened.get(root) ?? null;
      return {
        root, state: why === null ? "scanning" : "error", files: 0, chunks: 0, latent: { ready: 0, total: 0 }, skipped: 0, pending: 0, progress: null, indexBytes: 0,
        indexDir: Loupe.indexDirFor(this.cacheDir, root), lifetime: "saved",
        lastError: why === null ? null : `could not reopen: ${why}. Loupe retries when the daemon restarts or on \`loupe index ${root}\`; \`loupe remove-root ${root}\` forgets it`,
      } satisfies RootStatus;
    });
  }
}
