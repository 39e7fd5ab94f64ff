// Tier: end-to-end. `loupe ls-files` from the built executable in a real child process, on a
// temp tree (needs `npm run build`, which `npm test` does first; no model).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = new URL("../../daemon/bin/loupe.js", import.meta.url).pathname;

async function loupe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "loupe-ls-files-"));
  const files: Record<string, string | Buffer> = {
    ".gitignore": "*.log\n",
    "src/app.ts": "export {};\n",
    "src/app.log": "noise\n",
    "node_modules/dep/index.js": "x\n",
    "node_modules/dep/more.js": "x\n",
    "logo.png": Buffer.from([0x89, 0x50, 0x00]),
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
  await symlink(root, join(root, "self"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("loupe ls-files", () => {
  it("prints one JSON object with the files to index and each skipped path once, with its reason", async () => {
    const r = await loupe("ls-files", root, "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/2 files to index/);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      root,
      files: [".gitignore", "src/app.ts"],
      skipped: [
        { path: "logo.png", reason: expect.stringMatching(/^binary/) },
        { path: "node_modules", reason: expect.stringMatching(/dependency or build folder/) },
        { path: "self", reason: "symbolic link (not followed)" },
        { path: "src/app.log", reason: "ignored by .gitignore: *.log" },
      ],
    });
  });
  it("lists plain paths, and the skipped ones only with --skipped", async () => {
    expect((await loupe("ls-files", root, "--quiet")).stdout).toBe(".gitignore\nsrc/app.ts\n");
    const r = await loupe("ls-files", root, "--skipped", "--quiet");
    expect(r.stdout).toMatch(/^\.gitignore\nsrc\/app\.ts\nskipped: logo\.png — binary/);
    expect(r.stdout).toMatch(/skipped: src\/app\.log — ignored by \.gitignore: \*\.log\n$/);
  });
  it("skips secret files with a reason that says how to re-include them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-ls-files-secrets-"));
    try {
      await writeFile(join(dir, ".env"), "API_KEY=hunter2\n");
      await writeFile(join(dir, ".env.example"), "API_KEY=\n");
      const r = await loupe("ls-files", dir, "--skipped", "--quiet");
      expect(r.stdout).toBe(".env.example\nskipped: .env — secret (default deny list; re-include with !.env in .loupeignore)\n");
      await writeFile(join(dir, ".loupeignore"), "!.env\n");
      expect((await loupe("ls-files", dir, "--quiet")).stdout).toBe(".env\n.env.example\n.loupeignore\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("refuses a missing root with an actionable message", async () => {
    const r = await loupe("ls-files", join(root, "missing"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot open the workspace root .*missing \(ENOENT\)\. Check the path/);
    expect(r.stdout).toBe("");
  });
});
