// A minimal folder walk for one-shot searches: regular text files under a root, skipping VCS,
// dependency and build folders, symlinks, large and binary files, and invalid UTF-8. The
// daemon's watcher with real ignore rules (issue 6) replaces it; each skip is reported.
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/** Files above this many bytes are skipped; default 1 MiB. */
export const MAX_FILE_BYTES = 1 << 20;
const SKIP_DIRS = new Set([".git", ".hg", ".svn", "node_modules", "dist", "build", "target", "out", "__pycache__", ".venv", "venv"]);

export interface ScannedFile {
  /** Relative to the root, with forward slashes. */
  path: string;
  text: string;
}

export interface Skipped {
  path: string;
  reason: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export async function scanFolder(root: string): Promise<{ files: ScannedFile[]; skipped: Skipped[] }> {
  const files: ScannedFile[] = [];
  const skipped: Skipped[] = [];
  const rel = (p: string) => relative(root, p).split("\\").join("/");
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      skipped.push({ path: rel(dir) || ".", reason: `unreadable folder (${(e as NodeJS.ErrnoException).code})` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        skipped.push({ path: rel(path), reason: "symbolic link" });
      } else if (entry.isDirectory()) {
        if (SKIP_DIRS.has(entry.name) || entry.name.startsWith(".")) skipped.push({ path: rel(path), reason: "ignored folder" });
        else await walk(path);
      } else if (entry.isFile()) {
        await readOne(path);
      }
    }
  }
  async function readOne(path: string): Promise<void> {
    let bytes: Buffer;
    try {
      const size = (await stat(path)).size;
      if (size > MAX_FILE_BYTES) return void skipped.push({ path: rel(path), reason: `larger than ${MAX_FILE_BYTES} bytes` });
      bytes = await readFile(path);
    } catch (e) {
      // Vanished between listing and reading, or no permission.
      return void skipped.push({ path: rel(path), reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? "error"})` });
    }
    if (bytes.subarray(0, 8192).includes(0)) return void skipped.push({ path: rel(path), reason: "binary" });
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return void skipped.push({ path: rel(path), reason: "invalid UTF-8" });
    }
    files.push({ path: rel(path), text });
  }
  await walk(root);
  return { files, skipped };
}
