// What in a workspace gets indexed, and why everything else does not. Two halves:
// - `IgnoreRules` (no IO): gitignore semantics over nested `.gitignore` / `.loupeignore` files,
//   `.git/info/exclude` and Loupe's defaults, via the `ignore` library. Every rule file's
//   patterns are rebased onto root-relative paths and appended to one rule list per folder, so
//   git's own precedence falls out: later rules win, deeper files come later than shallower
//   ones, `.loupeignore` comes after `.gitignore` in the same folder (so it can re-include with
//   `!`), and a file inside an excluded folder cannot be re-included. `contentSkipReason` judges
//   bytes (binary, invalid UTF-8).
// - `walkWorkspace`: a small walker that reads folders and files, never follows symbolic links
//   (so no loops), never opens anything but regular files, and reports every skipped path once
//   (a skipped folder, not each file inside it) with a reason.
import { constants, readFileSync } from "node:fs";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";
import { ErrorCode, LoupeError } from "../errors.js";

/** Files above this many bytes are skipped (default 1 MiB); `WalkOptions.maxFileBytes` overrides. */
export const DEFAULT_MAX_FILE_BYTES = 1 << 20;
/** How far into a file the binary check looks for a NUL byte. */
export const BINARY_PROBE_BYTES = 8192;
/** Version-control folders: always skipped, no rule can re-include them. */
export const VCS_DIRS: readonly string[] = [".git", ".hg", ".svn"];
/** Dependency and build folders, skipped at any depth unless a rule file re-includes them with `!name/`. */
export const DEFAULT_IGNORED_DIRS: readonly string[] = [
  "node_modules", "dist", "build", "target", ".venv", "venv", "__pycache__", ".cache", "coverage", ".next", "vendor",
];
/** Lock files, skipped at any depth unless re-included with `!name`. */
export const DEFAULT_LOCK_FILES: readonly string[] = [
  "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "poetry.lock", "Gemfile.lock", "composer.lock", "go.sum",
];
/** Rule files read in every folder, in this order (the later one wins). */
export const IGNORE_FILES: readonly string[] = [".gitignore", ".loupeignore"];

/** Escapes a root-relative folder path so that the `ignore` library reads it literally. */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]]/g, "\\$&").replace(/^[#!]/, "\\$&");
}

/**
 * One gitignore line from the rule file in folder `base` (root-relative, "" for the root),
 * rewritten to match root-relative paths; null for blank lines and comments. Git anchors a
 * pattern with a slash at its start or middle to the file's folder; any other pattern matches
 * at any depth below it.
 */
export function rebasePattern(line: string, base: string): string | null {
  if (line.endsWith("\r")) line = line.slice(0, -1);
  if (line.trim() === "" || line.startsWith("#")) return null;
  if (base === "") return line;
  let negate = "";
  let body = line;
  if (body.startsWith("!")) {
    negate = "!";
    body = body.slice(1);
  }
  const trimmed = body.replace(/(?<!\\)\s+$/, "");
  const slash = trimmed.replace(/\/+$/, "").indexOf("/");
  const prefix = escapeGlob(base) + "/";
  if (slash === -1) return `${negate}${prefix}**/${body}`;
  return `${negate}${prefix}${body.startsWith("/") ? body.slice(1) : body}`;
}

/** The rules in force in one folder: defaults, `.git/info/exclude`, and every rule file from the root down. */
export class IgnoreRules {
  private constructor(private readonly ig: Ignore) {}

  /** Loupe's defaults alone (dependency and build folders, lock files). */
  static defaults(): IgnoreRules {
    const ig = ignore({ ignorecase: false });
    ig.add(DEFAULT_IGNORED_DIRS.map((d) => ({ pattern: `${d}/`, mark: `default rule (dependency or build folder): ${d}/` })));
    ig.add(DEFAULT_LOCK_FILES.map((f) => ({ pattern: f, mark: `default rule (lock file): ${f}` })));
    return new IgnoreRules(ig);
  }

  /**
   * These rules plus the rule file `source` (a root-relative path, for reasons) found in folder
   * `base`; a new object, this one is unchanged. Rules of `.git/info/exclude` use base "".
   */
  with(base: string, source: string, text: string): IgnoreRules {
    const patterns = [];
    for (const line of text.replace(/^\uFEFF/, "").split("\n")) {
      const pattern = rebasePattern(line, base);
      if (pattern !== null) patterns.push({ pattern, mark: `${source}: ${line.replace(/\r$/, "").trim()}` });
    }
    if (patterns.length === 0) return this;
    return new IgnoreRules(ignore({ ignorecase: false }).add(this.ig).add(patterns));
  }

  /** Why the root-relative `path` is skipped, or null when the rules keep it. */
  check(path: string, isDir: boolean): string | null {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (VCS_DIRS.includes(name)) return "version-control folder";
    const result = this.ig.test(isDir ? `${path}/` : path);
    if (!result.ignored) return null;
    const mark = result.rule?.mark;
    return mark ? `ignored by ${mark}` : "ignored";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Why a file with these bytes is skipped (binary, invalid UTF-8), or null for text. */
export function contentSkipReason(bytes: Uint8Array): string | null {
  if (bytes.subarray(0, BINARY_PROBE_BYTES).includes(0)) return "binary (NUL byte in the first 8 KiB)";
  try {
    utf8.decode(bytes);
  } catch {
    return "invalid UTF-8";
  }
  return null;
}

export interface WalkOptions {
  /** Skip files larger than this many bytes; default `DEFAULT_MAX_FILE_BYTES` (1 MiB). */
  maxFileBytes?: number;
  /** Keep each file's decoded text in the result (the one-shot search needs it; `ls-files` does not). */
  keepText?: boolean;
  /**
   * Called with each kept file's size and mtime before it is read; returning true means the
   * caller already has this version (the daemon's reconcile), so the file is listed with
   * `unchanged: true` and not read.
   */
  unchanged?: (path: string, size: number, mtimeMs: number) => boolean;
}

export interface WorkspaceFile {
  /** Relative to the root, with forward slashes. */
  path: string;
  size: number;
  mtimeMs: number;
  /** The decoded text, with `keepText` (absent for `unchanged` files). */
  text?: string;
  /** Set when `WalkOptions.unchanged` said the caller has this version; the file was not read. */
  unchanged?: true;
}

export interface SkippedPath {
  /** Relative to the root, with forward slashes; a folder is reported once, without its contents. */
  path: string;
  reason: string;
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? "error";
}

/** The rules in force at the root: defaults, then `.git/info/exclude` when the root is a repository. */
async function rootRules(root: string): Promise<IgnoreRules> {
  let rules = IgnoreRules.defaults();
  try {
    rules = rules.with("", ".git/info/exclude", await readFile(join(root, ".git", "info", "exclude"), "utf8"));
  } catch {
    // No repository here, or no exclude file: nothing to add.
  }
  return rules;
}

/**
 * Walks `root` and returns the files to index and every skipped path with its reason, both in
 * walk order (names sorted by code unit, depth first). A missing root, or one that is not a
 * folder, is a `LoupeError`; anything below it that cannot be read is skipped, not thrown.
 */
export async function walkWorkspace(root: string, options: WalkOptions = {}): Promise<{ files: WorkspaceFile[]; skipped: SkippedPath[] }> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let rootStat;
  try {
    rootStat = await stat(root);
  } catch (e) {
    throw new LoupeError(ErrorCode.WorkspaceRoot, `cannot open the workspace root ${root} (${errCode(e)}). Check the path, or pass an existing folder.`);
  }
  if (!rootStat.isDirectory()) throw new LoupeError(ErrorCode.WorkspaceRoot, `the workspace root ${root} is not a folder. Pass the folder that holds your code and notes.`);
  try {
    await readdir(root);
  } catch (e) {
    throw new LoupeError(ErrorCode.WorkspaceRoot, `cannot read the workspace root ${root} (${errCode(e)}). Check its permissions.`);
  }

  const files: WorkspaceFile[] = [];
  const skipped: SkippedPath[] = [];
  const skip = (path: string, reason: string) => void skipped.push({ path, reason });

  async function walk(dir: string, relDir: string, inherited: IgnoreRules): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      return skip(relDir || ".", `unreadable folder (${errCode(e)})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let rules = inherited;
    for (const name of IGNORE_FILES) {
      if (!entries.some((e) => e.name === name && e.isFile())) continue;
      const source = relDir ? `${relDir}/${name}` : name;
      try {
        rules = rules.with(relDir, source, await readFile(join(dir, name), "utf8"));
      } catch {
        // Unreadable: its rules cannot apply; the file itself is reported as unreadable below.
      }
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) {
        skip(rel, "symbolic link (not followed)");
      } else if (entry.isDirectory()) {
        const reason = rules.check(rel, true);
        if (reason) skip(rel, reason);
        else await walk(path, rel, rules);
      } else if (entry.isFile()) {
        const reason = rules.check(rel, false);
        if (reason) skip(rel, reason);
        else await readOne(path, rel);
      } else {
        skip(rel, "not a regular file (socket, FIFO or device)");
      }
    }
  }

  async function readOne(path: string, rel: string): Promise<void> {
    const r = await readWorkspaceFile(path, maxBytes, (size, mtimeMs) => options.unchanged?.(rel, size, mtimeMs) ?? false);
    if ("skip" in r) return skip(rel, r.skip);
    if (r.text === undefined) files.push({ path: rel, size: r.size, mtimeMs: r.mtimeMs, unchanged: true });
    else files.push(options.keepText ? { path: rel, size: r.size, mtimeMs: r.mtimeMs, text: r.text } : { path: rel, size: r.size, mtimeMs: r.mtimeMs });
  }

  await walk(root, "", await rootRules(root));
  return { files, skipped };
}

/**
 * Reads one file the way the walk does: only a regular file, at most `maxBytes`, text in valid
 * UTF-8 without NUL bytes; otherwise the reason it is skipped ("vanished while reading" when it
 * no longer exists). When `unchanged(size, mtimeMs)` says so, the content is not read (`text`
 * absent).
 */
export async function readWorkspaceFile(
  path: string,
  maxBytes: number = DEFAULT_MAX_FILE_BYTES,
  unchanged?: (size: number, mtimeMs: number) => boolean,
): Promise<{ size: number; mtimeMs: number; text?: string } | { skip: string; gone?: true }> {
  let bytes: Buffer;
  let mtimeMs: number;
  try {
    // O_NONBLOCK: should the entry have been swapped for a FIFO since the listing, opening it
    // must not hang. O_NOFOLLOW: a symbolic link is never followed, even if one replaced the file.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile()) return { skip: "not a regular file (socket, FIFO or device)" };
      if (st.size > maxBytes) return { skip: `larger than ${maxBytes} bytes (${st.size} bytes)` };
      mtimeMs = st.mtimeMs;
      if (unchanged?.(st.size, st.mtimeMs)) return { size: st.size, mtimeMs };
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (e) {
    const code = errCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return { skip: "vanished while reading", gone: true };
    if (code === "ELOOP") return { skip: "symbolic link (not followed)" };
    return { skip: `unreadable (${code})` };
  }
  if (bytes.length > maxBytes) return { skip: `larger than ${maxBytes} bytes (${bytes.length} bytes)` };
  const reason = contentSkipReason(bytes);
  if (reason) return { skip: reason };
  return { size: bytes.length, mtimeMs, text: bytes.toString("utf8") };
}

/**
 * The rules in force for single paths, for the watcher: the same chain the walk builds (defaults,
 * `.git/info/exclude`, every rule file from the root down), read synchronously and cached per
 * folder. `clear()` after any rule file changes.
 */
export class RulesCache {
  private readonly folders = new Map<string, IgnoreRules>();
  constructor(readonly root: string) {}

  clear(): void {
    this.folders.clear();
  }

  /** The rules of root-relative folder `relDir` ("" for the root). */
  rulesOf(relDir: string): IgnoreRules {
    let rules = this.folders.get(relDir);
    if (rules) return rules;
    if (relDir === "") {
      rules = IgnoreRules.defaults();
      try {
        rules = rules.with("", ".git/info/exclude", readFileSync(join(this.root, ".git", "info", "exclude"), "utf8"));
      } catch {
        // No repository, or no exclude file.
      }
    } else {
      const parent = relDir.includes("/") ? relDir.slice(0, relDir.lastIndexOf("/")) : "";
      rules = this.rulesOf(parent);
    }
    for (const name of IGNORE_FILES) {
      const source = relDir ? `${relDir}/${name}` : name;
      try {
        rules = rules.with(relDir, source, readFileSync(join(this.root, source), "utf8"));
      } catch {
        // Absent or unreadable: no rules from it.
      }
    }
    this.folders.set(relDir, rules);
    return rules;
  }

  /** Why root-relative `path` is skipped by the rules (it or any folder above it), or null. */
  check(path: string, isDir: boolean): string | null {
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const sub = parts.slice(0, i).join("/");
      const parent = parts.slice(0, i - 1).join("/");
      const reason = this.rulesOf(parent).check(sub, i < parts.length || isDir);
      if (reason) return reason;
    }
    return null;
  }
}
