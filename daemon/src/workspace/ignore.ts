// What in a workspace gets indexed, and why everything else does not. Two halves:
// - `IgnoreRules` (no IO): gitignore semantics over nested `.gitignore` / `.loupeignore` files,
//   `.git/info/exclude` and Loupe's defaults, via the `ignore` library. Every rule file's
//   patterns are rebased onto root-relative paths and appended to one rule list per folder, so
//   git's own precedence falls out: later rules win, deeper files come later than shallower
//   ones, `.loupeignore` comes after `.gitignore` in the same folder (so it can re-include with
//   `!`), and a file inside an excluded folder cannot be re-included. `decodeText` judges bytes
//   (binary, mostly not UTF-8) and decodes the rest leniently.
// - `walkWorkspace`: a small walker that reads folders and files, never follows symbolic links
//   (so no loops), never opens anything but regular files, and reports every skipped path once
//   (a skipped folder, not each file inside it) with a reason.
import { constants, readFileSync } from "node:fs";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";
import { ErrorCode, LoupeError } from "@loupe/protocol";

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
/**
 * Files that commonly hold secrets (keys, tokens, passwords), skipped at any depth so that they
 * are neither indexed nor served by `read`; a rule file re-includes one with `!pattern`. Entries
 * are gitignore patterns over file names (folders of these names are still walked: a source
 * folder called `credentials/` is code, not a secret); a `!` entry keeps a harmless template.
 */
export const DEFAULT_SECRET_FILES: readonly string[] = [
  ".env", // dotenv: API keys and passwords for local runs
  ".env.*", // per-environment dotenv files (.env.local, .env.production)
  "!.env.example", // dotenv templates carry names without values and document the setup
  "!.env.sample",
  "!.env.template",
  "!.env.dist",
  "*.pem", // PEM private keys (and certificates, which rarely matter for search)
  "*.key", // private keys (TLS, signing)
  "*.p12", // PKCS#12 bundles: a private key with its certificate
  "*.pfx", // PKCS#12 under its Windows name
  "*.jks", // Java keystores
  "*.keystore", // Java and Android keystores
  "*.ppk", // PuTTY private keys
  "id_rsa", // SSH private keys; the `.pub` halves are public and stay indexed
  "id_dsa",
  "id_ecdsa",
  "id_ed25519",
  "id_ecdsa_sk",
  "id_ed25519_sk",
  "*.kdbx", // KeePass password databases
  ".npmrc", // npm registry auth tokens
  ".pypirc", // PyPI upload credentials
  ".netrc", // machine logins and passwords for curl, git, ftp
  ".pgpass", // PostgreSQL passwords
  ".git-credentials", // git's credential store: tokens in plain text
  ".htpasswd", // Apache password hashes
  "credentials", // AWS (.aws/credentials) and other CLIs' credential files
  "credentials.json", // Google OAuth client secrets and similar
  "**/.docker/config.json", // Docker registry auth
  "secrets.yml", // Rails and other frameworks' secrets files
  "secrets.yaml",
  "secrets.json",
  "*.tfvars", // Terraform variable values, often passwords and tokens
  "*.tfvars.json",
  "terraform.tfstate*", // Terraform state (and its backups) stores resource secrets in plain text
  "service-account*.json", // Google Cloud service account keys
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

  /**
   * Loupe's defaults alone (secret files, dependency and build folders, lock files). A rule's
   * mark is the whole reason `check` reports. Secrets come first: each of their patterns is
   * followed by its folder form negated (so only files match), and a later default folder rule
   * must still win over that negation.
   */
  static defaults(): IgnoreRules {
    const ig = ignore({ ignorecase: false });
    for (const p of DEFAULT_SECRET_FILES) {
      if (p.startsWith("!")) {
        ig.add({ pattern: p, mark: "" });
        continue;
      }
      ig.add({ pattern: p, mark: `secret (default deny list; re-include with !${p} in .loupeignore)` });
      ig.add({ pattern: `!${p}/`, mark: "" });
    }
    ig.add(DEFAULT_IGNORED_DIRS.map((d) => ({ pattern: `${d}/`, mark: `ignored by default rule (dependency or build folder): ${d}/` })));
    ig.add(DEFAULT_LOCK_FILES.map((f) => ({ pattern: f, mark: `ignored by default rule (lock file): ${f}` })));
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
      if (pattern !== null) patterns.push({ pattern, mark: `ignored by ${source}: ${line.replace(/\r$/, "").trim()}` });
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
    return result.rule?.mark || "ignored";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * How many bytes are not part of a well-formed UTF-8 sequence. Each maximal invalid subpart
 * counts with all its bytes (a truncated 3-byte sequence is 2 bytes), matching where the WHATWG
 * decoder puts its U+FFFD replacements.
 */
export function invalidUtf8Bytes(bytes: Uint8Array): number {
  let invalid = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The sequence length and the range its second byte must fall in (which rules out overlong
    // forms, surrogates and code points above U+10FFFF).
    let need = 0, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    }
    if (need === 0) {
      invalid++;
      i++;
      continue;
    }
    let j = 1;
    while (j <= need && i + j < bytes.length) {
      const c = bytes[i + j]!;
      if (j === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) break;
      j++;
    }
    if (j > need) i += j;
    else {
      invalid += j;
      i += j;
    }
  }
  return invalid;
}

/**
 * The text of a file with these bytes, or why it is skipped. Binary: a NUL byte in the first
 * 8 KiB. Otherwise the bytes decode leniently (each invalid sequence becomes U+FFFD), so a stray
 * byte in a source file costs one character, not the whole file. A file is skipped as not UTF-8
 * only when over 1% of its bytes are invalid, and at least 4 of them: that is text in another
 * encoding (Latin-1 prose has an accented letter every few dozen bytes) whose words would be cut
 * apart by replacements, while a short file with a stray byte or two is still worth indexing.
 * The text keeps a byte order mark, as Buffer decoding always has, so content hashes stay stable.
 */
export function decodeText(bytes: Uint8Array): { text: string } | { skip: string } {
  if (bytes.subarray(0, BINARY_PROBE_BYTES).includes(0)) return { skip: "binary (NUL byte in the first 8 KiB)" };
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    // Not well-formed: count the damage below.
  }
  const invalid = invalidUtf8Bytes(bytes);
  if (invalid >= 4 && invalid * 100 > bytes.length) {
    return { skip: `not UTF-8 (${Math.round((invalid * 100) / bytes.length)}% invalid bytes; Latin-1 or another encoding?)` };
  }
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") };
}

/** Why a file with these bytes is skipped (binary, mostly not UTF-8), or null for text. */
export function contentSkipReason(bytes: Uint8Array): string | null {
  const r = decodeText(bytes);
  return "skip" in r ? r.skip : null;
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
 * Reads one file the way the walk does: only a regular file, at most `maxBytes`, text as
 * `decodeText` decodes it (its `size` is the bytes read, its text what the caller hashes);
 * otherwise the reason it is skipped ("vanished while reading" when it
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
  const decoded = decodeText(bytes);
  if ("skip" in decoded) return decoded;
  return { size: bytes.length, mtimeMs, text: decoded.text };
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
