// Tier: end-to-end. Awkward input to the built `loupe` executable in a real child process: option
// values that look like options, and file names that would break line-oriented output (needs
// `npm run build`, which `npm test` does first; no model, no daemon).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoupe, type CliResult } from "../support/cli.js";


let home: string;
let root: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "loupe-cli-input-home-"));
  root = await mkdtemp(join(tmpdir(), "loupe-cli-input-"));
  await writeFile(join(root, ".gitignore"), "*.log\n");
  await writeFile(join(root, "a\nb.md"), "# two lines in a name\n");
  await writeFile(join(root, "plain ü.md"), "x\n");
  await writeFile(join(root, "c\td.log"), "x\n");
});
afterAll(async () => {
  // Should a regression make `search` reach for the daemon, this child's own daemon stops here.
  await loupe("daemon", "stop");
  await rm(root, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

/**
 * Runs the CLI with its own cache and runtime folders, so that nothing here can reach (or start)
 * the user's daemon.
 */
function loupe(...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOUPE_CACHE_DIR: join(home, "cache"), LOUPE_RUNTIME_DIR: join(home, "run") };
  for (const name of ["LOUPE_SOCKET", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"]) delete env[name];
  return runLoupe(env, ...args);
}

describe("option values that look like options", () => {
  it("gives a negative --k to its range check instead of calling it an ambiguous option", async () => {
    const r = await loupe("search", "foo", "--k", "-1");
    expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(r.stderr).toContain('--k must be an integer from 1 to 100, got "-1"');
    expect(r.stderr).not.toMatch(/ambiguous|starting the Loupe daemon/);
    // After `--` a negative number is still a positional.
    const after = await loupe("ls-files", "--quiet", "--", "-1");
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/cannot open the workspace root .*\/-1 \(ENOENT\)/);
  });
});

describe("file names with control characters", () => {
  it("quotes them in ls-files text output, one path a line, like git, and leaves JSON as it was", async () => {
    const r = await loupe("ls-files", root, "--skipped", "--quiet");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('.gitignore\n"a\\nb.md"\nplain ü.md\nskipped: "c\\td.log" — ignored by .gitignore: *.log\n');
    // JSON escapes control characters itself: the path stays the file's name.
    const json = JSON.parse((await loupe("ls-files", root, "--json", "--quiet")).stdout);
    expect(json).toMatchObject({ files: [".gitignore", "a\nb.md", "plain ü.md"], skipped: [{ path: "c\td.log" }] });
  });
});
