// Tier: unit (no model; real temp folders, since reading the file system is the point). The
// workspace ignore rules and walker: gitignore semantics (checked against git itself where git is
// installed), defaults, content checks, symbolic links, unreadable folders.
import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LoupeError } from "../../daemon/src/errors.js";
import { contentSkipReason, DEFAULT_MAX_FILE_BYTES, IgnoreRules, rebasePattern, walkWorkspace } from "../../daemon/src/workspace/ignore.js";

const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

/** A temp folder holding `tree` (relative path → content). */
async function tree(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "loupe-ignore-"));
  made.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

async function walk(root: string, maxFileBytes?: number) {
  const { files, skipped } = await walkWorkspace(root, maxFileBytes === undefined ? {} : { maxFileBytes });
  return { files: files.map((f) => f.path), reasons: Object.fromEntries(skipped.map((s) => [s.path, s.reason])) };
}

function hasGit(): boolean {
  try {
    execFileSync("git", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("rebasePattern", () => {
  it("anchors patterns with a slash to their folder and lets the others match at any depth", () => {
    expect(rebasePattern("*.log", "")).toBe("*.log");
    expect(rebasePattern("*.log", "a/b")).toBe("a/b/**/*.log");
    expect(rebasePattern("out/", "a")).toBe("a/**/out/");
    expect(rebasePattern("/out", "a")).toBe("a/out");
    expect(rebasePattern("x/y", "a")).toBe("a/x/y");
    expect(rebasePattern("**/gen", "a")).toBe("a/**/gen");
    expect(rebasePattern("!keep.log", "a")).toBe("!a/**/keep.log");
    expect(rebasePattern("!/keep.log", "a")).toBe("!a/keep.log");
    expect(rebasePattern("# comment", "a")).toBeNull();
    expect(rebasePattern("   ", "a")).toBeNull();
    expect(rebasePattern("*.tmp\r", "a")).toBe("a/**/*.tmp");
    expect(rebasePattern("x", "we[ir]d*")).toBe("we\\[ir\\]d\\*/**/x");
  });
});

describe("IgnoreRules", () => {
  it("applies nested rule files with negation and says which rule decided", () => {
    const rules = IgnoreRules.defaults().with("", ".gitignore", "*.log\n!keep.log\n").with("sub", "sub/.gitignore", "!also.log\n/local.txt\n");
    expect(rules.check("a.log", false)).toBe("ignored by .gitignore: *.log");
    expect(rules.check("keep.log", false)).toBeNull();
    expect(rules.check("sub/also.log", false)).toBeNull();
    expect(rules.check("sub/other.log", false)).toBe("ignored by .gitignore: *.log");
    expect(rules.check("sub/local.txt", false)).toBe("ignored by sub/.gitignore: /local.txt");
    expect(rules.check("local.txt", false)).toBeNull();
    expect(rules.check("sub/deeper/local.txt", false)).toBeNull();
    expect(rules.check("sub/node_modules", true)).toMatch(/default rule \(dependency or build folder\): node_modules\//);
    expect(rules.check("a/yarn.lock", false)).toMatch(/default rule \(lock file\)/);
    expect(rules.check("x/.git", true)).toBe("version-control folder");
    // Folder-only patterns do not touch files of that name.
    expect(rules.check("build", false)).toBeNull();
  });
  it("lets a rule file re-include a default, except version-control folders", () => {
    const rules = IgnoreRules.defaults().with("", ".loupeignore", "!vendor/\n!.git/\n");
    expect(rules.check("vendor", true)).toBeNull();
    expect(rules.check(".git", true)).toBe("version-control folder");
  });
});

describe("contentSkipReason", () => {
  it("tells text from binary and invalid UTF-8", () => {
    expect(contentSkipReason(Buffer.from("héllo 世界\n"))).toBeNull();
    expect(contentSkipReason(Buffer.from([0x61, 0x00, 0x62]))).toMatch(/^binary/);
    expect(contentSkipReason(Buffer.from([0x61, 0xff, 0xfe]))).toBe("invalid UTF-8");
    // A NUL past the first 8 KiB is not a binary marker (but still valid UTF-8).
    expect(contentSkipReason(Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0])]))).toBeNull();
  });
});

describe("walkWorkspace", () => {
  it("honours nested .gitignore with negation, .git/info/exclude and .loupeignore at any level", async () => {
    const root = await tree({
      ".gitignore": "*.log\n!keep.log\nsecrets/\n",
      ".git/info/exclude": "local-notes.md\n",
      ".git/HEAD": "ref: refs/heads/main\n",
      "a.log": "x",
      "keep.log": "x",
      "local-notes.md": "x",
      "secrets/key.txt": "x",
      "src/main.ts": "x",
      "src/.gitignore": "!debug.log\ngenerated/\n",
      "src/debug.log": "x",
      "src/trace.log": "x",
      "src/generated/out.ts": "x",
      "docs/.loupeignore": "drafts/\n!keep.log\n",
      "docs/drafts/wip.md": "x",
      "docs/readme.md": "x",
      ".loupeignore": "*.snap\n",
      "test/a.snap": "x",
    });
    const { files, reasons } = await walk(root);
    expect(files.sort()).toEqual([".gitignore", ".loupeignore", "docs/.loupeignore", "docs/readme.md", "keep.log", "src/.gitignore", "src/debug.log", "src/main.ts"]);
    expect(reasons).toEqual({
      ".git": "version-control folder",
      "a.log": "ignored by .gitignore: *.log",
      "local-notes.md": "ignored by .git/info/exclude: local-notes.md",
      secrets: "ignored by .gitignore: secrets/",
      "src/trace.log": "ignored by .gitignore: *.log",
      "src/generated": "ignored by src/.gitignore: generated/",
      "docs/drafts": "ignored by docs/.loupeignore: drafts/",
      "test/a.snap": "ignored by .loupeignore: *.snap",
    });
  });

  it.skipIf(!hasGit())("agrees with git on which files a tree of rule files keeps (needs git)", async () => {
    const root = await tree({
      ".gitignore": "*.tmp\n!important.tmp\n/top-only.txt\nlogs/\n**/cache-*\ndocs/*.pdf.txt\n",
      "a.tmp": "x",
      "important.tmp": "x",
      "top-only.txt": "x",
      "logs/1.txt": "x",
      "cache-x.md": "x",
      "docs/manual.pdf.txt": "x",
      "docs/keep.txt": "x",
      "sub/top-only.txt": "x",
      "sub/b.tmp": "x",
      "sub/.gitignore": "!b.tmp\nlocal/\n!logs/\n*.md\n!README.md\n",
      "sub/logs/2.txt": "x",
      "sub/local/x.txt": "x",
      "sub/notes.md": "x",
      "sub/README.md": "x",
      "sub/deep/.gitignore": "!notes.md\n/only-here.txt\n",
      "sub/deep/notes.md": "x",
      "sub/deep/only-here.txt": "x",
      "sub/deep/more/only-here.txt": "x",
      "sub/deep/docs/manual.pdf.txt": "x",
    });
    execFileSync("git", ["init", "-q"], { cwd: root });
    const fromGit = execFileSync("git", ["ls-files", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" }).split("\n").filter(Boolean).sort();
    const { files } = await walk(root);
    expect(files.sort()).toEqual(fromGit);
  });

  it("skips default folders and lock files, binaries, oversized files, invalid UTF-8 and symbolic links, each once", async () => {
    const root = await tree({
      "src/a.ts": "export const a = 1;\n",
      "node_modules/x/index.js": "x",
      "pkg/dist/out.js": "x",
      "py/__pycache__/m.pyc": "x",
      "package-lock.json": "{}",
      "go/go.sum": "x",
      "image.png": Buffer.from([0x89, 0x50, 0x00, 0x01]),
      "bad.txt": Buffer.from([0x61, 0xff, 0xfe, 0x62]),
      "big.txt": Buffer.alloc(2048, 0x61),
      "just-right.txt": Buffer.alloc(1024, 0x61),
    });
    await symlink(root, join(root, "loop")); // would recurse forever if followed
    await symlink(join(root, "src", "a.ts"), join(root, "link.ts"));
    const { files, reasons } = await walk(root, 1024);
    expect(files).toEqual(["just-right.txt", "src/a.ts"]);
    expect(reasons).toEqual({
      "bad.txt": "invalid UTF-8",
      "big.txt": "larger than 1024 bytes (2048 bytes)",
      "go/go.sum": "ignored by default rule (lock file): go.sum",
      "image.png": "binary (NUL byte in the first 8 KiB)",
      "link.ts": "symbolic link (not followed)",
      loop: "symbolic link (not followed)",
      node_modules: "ignored by default rule (dependency or build folder): node_modules/",
      "package-lock.json": "ignored by default rule (lock file): package-lock.json",
      "pkg/dist": "ignored by default rule (dependency or build folder): dist/",
      "py/__pycache__": "ignored by default rule (dependency or build folder): __pycache__/",
    });
  });

  it("uses a 1 MiB size limit by default", async () => {
    const root = await tree({ "huge.log.txt": Buffer.alloc(DEFAULT_MAX_FILE_BYTES + 1, 0x61), "ok.txt": Buffer.alloc(DEFAULT_MAX_FILE_BYTES, 0x61) });
    const { files, reasons } = await walk(root);
    expect(files).toEqual(["ok.txt"]);
    expect(reasons["huge.log.txt"]).toBe(`larger than ${DEFAULT_MAX_FILE_BYTES} bytes (${DEFAULT_MAX_FILE_BYTES + 1} bytes)`);
  });

  it("refuses a missing root or a file as root with a LoupeError", async () => {
    const root = await tree({ "f.txt": "x" });
    await expect(walkWorkspace(join(root, "nope"))).rejects.toThrow(LoupeError);
    await expect(walkWorkspace(join(root, "nope"))).rejects.toThrow(/cannot open the workspace root .*ENOENT.*Check the path/);
    await expect(walkWorkspace(join(root, "f.txt"))).rejects.toThrow(/is not a folder/);
  });

  // Root reads every folder whatever its mode, so this case cannot be set up when running as
  // root (uid 0, as in some containers); it is skipped there.
  it.skipIf(process.getuid?.() === 0)("reports an unreadable folder and an unreadable file, and walks on (skipped as root)", async () => {
    const root = await tree({ "locked/a.txt": "x", "secret.txt": "x", "ok.txt": "x" });
    await chmod(join(root, "locked"), 0o000);
    await chmod(join(root, "secret.txt"), 0o000);
    try {
      const { files, reasons } = await walk(root);
      expect(files).toEqual(["ok.txt"]);
      expect(reasons).toEqual({ locked: "unreadable folder (EACCES)", "secret.txt": "unreadable (EACCES)" });
    } finally {
      await chmod(join(root, "locked"), 0o755);
    }
  });
});
