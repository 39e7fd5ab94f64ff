// The daemon's remembered roots, `<cache>/roots.json`: the folders a user added with `loupe
// index`, brought back on every start. It is the only user decision the cache holds, so it is
// written like the index manifest (temp file, fsync, rename, folder fsync) and one write at a
// time, each carrying the whole list. The list is read before the daemon answers anyone, so a
// request can never save a list that lacks roots not yet reopened; a root that fails to reopen
// (an unmounted disk) stays listed, with its error, until the user removes it.
import { open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface RootsFileContent {
  roots: string[];
}

export class RootsFile {
  private roots: string[] = [];
  private queue: Promise<void> = Promise.resolve();
  private writes = 0;

  constructor(
    readonly path: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Reads the list (empty when there is none). A damaged file is kept aside, never overwritten silently. */
  async load(): Promise<string[]> {
    // Temp files of writes a kill interrupted: the list they carried is either in place already or was never promised.
    const base = basename(this.path);
    for (const name of await readdir(dirname(this.path)).catch(() => [] as string[])) {
      if (name.startsWith(`${base}.`) && name.endsWith(".tmp")) await rm(join(dirname(this.path), name), { force: true });
    }
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      return (this.roots = []);
    }
    try {
      const parsed = JSON.parse(text) as { roots?: unknown };
      if (!Array.isArray(parsed.roots) || parsed.roots.some((r) => typeof r !== "string")) throw new Error("no list of folder paths under \"roots\"");
      this.roots = [...new Set(parsed.roots as string[])];
    } catch (e) {
      const aside = `${this.path}.damaged-${Date.now()}`;
      await rename(this.path, aside).catch(() => {});
      this.log(`${this.path} could not be read (${(e as Error).message}); kept it as ${aside} and start with no roots. Add them again with \`loupe index <folder>\`.`);
      this.roots = [];
    }
    return [...this.roots];
  }

  list(): string[] {
    return [...this.roots];
  }

  has(root: string): boolean {
    return this.roots.includes(root);
  }

  /** Adds `root` and persists the list; resolves once it is durable. */
  add(root: string): Promise<void> {
    if (this.roots.includes(root)) return this.queue;
    this.roots = [...this.roots, root];
    return this.save();
  }

  /** Removes `root` and persists the list; false when it was not listed. */
  async remove(root: string): Promise<boolean> {
    if (!this.roots.includes(root)) return false;
    this.roots = this.roots.filter((r) => r !== root);
    await this.save();
    return true;
  }

  /** Writes the current list after every earlier write (each write carries the whole list, so the last one wins). */
  private save(): Promise<void> {
    const content = JSON.stringify({ roots: this.roots } satisfies RootsFileContent, null, 2) + "\n";
    const n = ++this.writes;
    this.queue = this.queue.catch(() => {}).then(() => this.write(content, n));
    return this.queue;
  }

  private async write(content: string, n: number): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${n}.tmp`;
    const f = await open(tmp, "w", 0o600);
    try {
      await f.writeFile(content);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
