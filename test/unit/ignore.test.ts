// Tier: unit (no model; real temp folders, since reading the file system is the point). The
// workspace ignore rules and walker: gitignore semantics (checked against git itself where git is
// installed), defaults (the secrets deny list among them), content checks, symbolic links,
// unreadable folders.
import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LoupeError } from "@loupe/protocol";
import {
  contentSkipReason, DEFAULT_MAX_FILE_BYTES, DEFAULT_SECRET_FILES, IgnoreRules, readWorkspaceFile, rebasePattern, RulesCache, walkWorkspace,
} from "../../daemon/src/workspace/ignore.js";

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

/** `n` lines of French in Latin-1: 8 accented letters in every 46 bytes, each an invalid UTF-8 byte (17%). */
function latin1(n: number): Buffer {
  return Buffer.from("Le café crème est brûlé à côté de la fenêtre.\n".repeat(n), "latin1");
}

describe("contentSkipReason", () => {
  it("tells text from binary and from text in another encoding", () => {
    expect(contentSkipReason(Buffer.from("héllo 世界\n"))).toBeNull();
    expect(contentSkipReason(Buffer.from([0x61, 0x00, 0x62]))).toMatch(/^binary/);
    // A few stray bytes are replaced, not a reason to drop the file.
    expect(contentSkipReason(Buffer.from([0x61, 0xff, 0xfe]))).toBeNull();
    expect(contentSkipReason(latin1(3))).toBe("not UTF-8 (17% invalid bytes; Latin-1 or another encoding?)");
    // A NUL past the first 8 KiB is not a binary marker (but still valid UTF-8).
    expect(contentSkipReason(Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0])]))).toBeNull();
  });
});

describe("decoding", () => {
  it("indexes a file with a stray invalid byte, with U+FFFD in its place", async () => {
    const bytes = Buffer.concat([Buffer.from("# Notes\nthe price is 5 "), Buffer.from([0xff]), Buffer.from(" a month\n")]);
    const root = await tree({ "notes.md": bytes });
    const { files, skipped } = await walkWorkspace(root, { keepText: true });
    expect(skipped).toEqual([]);
    expect(files).toMatchObject([{ path: "notes.md", size: bytes.length, text: "# Notes\nthe price is 5 \uFFFD a month\n" }]);
    // The single-file read (watcher, read tool) returns the same size and text, so hashes agree.
    expect(await readWorkspaceFile(join(root, "notes.md"))).toMatchObject({ size: bytes.length, text: files[0]!.text });
  });
  it("skips a Latin-1 file, naming the likely encoding", async () => {
    const root = await tree({ "lettre.txt": latin1(40) });
    const { files, reasons } = await walk(root);
    expect(files).toEqual([]);
    expect(reasons).toEqual({ "lettre.txt": "not UTF-8 (17% invalid bytes; Latin-1 or another encoding?)" });
    expect(await readWorkspaceFile(join(root, "lettre.txt"))).toEqual({ skip: reasons["lettre.txt"] });
  });
});

const secret = (pattern: string) => `secret (default deny list; re-include with !${pattern} in .loupeignore)`;

/** A path for every pattern of the deny list (some patterns get two, to show depth and variants). */
const SECRET_SAMPLES: Record<string, string[]> = {
  ".env": [".env", "app/.env"],
  ".env.*": [".env.local", "config/.env.production"],
  "*.pem": ["certs/server.pem"],
  "*.key": ["tls/server.key"],
  "*.p12": ["signing/cert.p12"],
  "*.pfx": ["signing/cert.pfx"],
  "*.jks": ["android/release.jks"],
  "*.keystore": ["android/debug.keystore"],
  "*.ppk": ["putty.ppk"],
  id_rsa: [".ssh/id_rsa"],
  id_dsa: [".ssh/id_dsa"],
  id_ecdsa: [".ssh/id_ecdsa"],
  id_ed25519: [".ssh/id_ed25519"],
  id_ecdsa_sk: [".ssh/id_ecdsa_sk"],
  id_ed25519_sk: [".ssh/id_ed25519_sk"],
  "*.kdbx": ["passwords.kdbx"],
  ".npmrc": [".npmrc"],
  ".pypirc": [".pypirc"],
  ".netrc": [".netrc"],
  ".pgpass": [".pgpass"],
  ".git-credentials": [".git-credentials"],
  ".htpasswd": ["public/.htpasswd"],
  credentials: [".aws/credentials"],
  "credentials.json": ["credentials.json"],
  "**/.docker/config.json": [".docker/config.json", "home/.docker/config.json"],
  "secrets.yml": ["config/secrets.yml"],
  "secrets.yaml": ["secrets.yaml"],
  "secrets.json": ["secrets.json"],
  "*.tfvars": ["infra/prod.tfvars"],
  "*.tfvars.json": ["infra/prod.tfvars.json"],
  "terraform.tfstate*": ["infra/terraform.tfstate", "infra/terraform.tfstate.backup"],
  "service-account*.json": ["service-account-prod.json"],
};

/** Files near the deny list that hold nothing secret: templates, public keys, code in a folder named like a secret. */
const NOT_SECRET = [".env.example", ".env.sample", ".env.template", ".env.dist", ".ssh/id_rsa.pub", "src/credentials/index.ts", "docker/config.json", "docs/secrets.md"];

describe("the secrets deny list", () => {
  it("has a sample path in this test for every pattern", () => {
    expect(DEFAULT_SECRET_FILES.filter((p) => !p.startsWith("!")).sort()).toEqual(Object.keys(SECRET_SAMPLES).sort());
  });
  it("skips every kind of secret file with the secret reason, and keeps templates and public keys", async () => {
    const samples = Object.entries(SECRET_SAMPLES).flatMap(([pattern, paths]) => paths.map((path) => [path, pattern] as const));
    const root = await tree(Object.fromEntries([...samples.map(([path]) => [path, "TOKEN=hunter2\n"]), ...NOT_SECRET.map((p) => [p, "x\n"])]));
    const { files, reasons } = await walk(root);
    expect(files.sort()).toEqual([...NOT_SECRET].sort());
    expect(reasons).toEqual(Object.fromEntries(samples.map(([path, pattern]) => [path, secret(pattern)])));
  });
  it("refuses them on the single-path check the watcher and the read tool use", async () => {
    const root = await tree({ ".env": "API_KEY=x\n", ".aws/credentials": "x\n", ".env.example": "API_KEY=\n" });
    const rules = new RulesCache(root);
    expect(rules.check(".env", false)).toBe(secret(".env"));
    expect(rules.check(".aws/credentials", false)).toBe(secret("credentials"));
    expect(rules.check(".env.example", false)).toBeNull();
  });
  it("lets !.env in .loupeignore re-include .env, and only it", async () => {
    const root = await tree({ ".loupeignore": "!.env\n", ".env": "API_KEY=x\n", ".env.local": "API_KEY=y\n" });
    const { files, reasons } = await walk(root);
    expect(files).toEqual([".env", ".loupeignore"]);
    expect(reasons).toEqual({ ".env.local": secret(".env.*") });
    expect(new RulesCache(root).check(".env", false)).toBeNull();
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

  it("skips default folders and lock files, binaries, oversized files, text not in UTF-8 and symbolic links, each once", async () => {
    const root = await tree({
      "src/a.ts": "export const a = 1;\n",
      "node_modules/x/index.js": "x",
      "pkg/dist/out.js": "x",
      "py/__pycache__/m.pyc": "x",
      "package-lock.json": "{}",
      "go/go.sum": "x",
      "image.png": Buffer.from([0x89, 0x50, 0x00, 0x01]),
      "bad.txt": latin1(3),
      "big.txt": Buffer.alloc(2048, 0x61),
      "just-right.txt": Buffer.alloc(1024, 0x61),
    });
    await symlink(root, join(root, "loop")); // would recurse forever if followed
    await symlink(join(root, "src", "a.ts"), join(root, "link.ts"));
    const { files, reasons } = await walk(root, 1024);
    expect(files).toEqual(["just-right.txt", "src/a.ts"]);
    expect(reasons).toEqual({
      "bad.txt": "not UTF-8 (17% invalid bytes; Latin-1 or another encoding?)",
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
