// Tier: e2e, a second real editor (the editor suite, `npm run test:editors`). Debian's headless
// Neovim starts `loupe lsp` as its language server for a copy of the fixture workspace and runs
// `vim.lsp.buf.workspace_symbol`, as a user would (test/e2e/neovim/workspace-symbol.lua); the
// quickfix list it fills must lead with the function that answers the question, at its line.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, runLoupe } from "../support/cli.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;
const SCRIPT = new URL("./neovim/workspace-symbol.lua", import.meta.url).pathname;
const NVIM = "/usr/bin/nvim";

let tmp: string;
let ws: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!existsSync(NVIM)) throw new Error(`${NVIM} is missing; run vscode-extension/scripts/setup-code-server.sh (it installs Debian's neovim)`);
  tmp = await mkdtemp("/tmp/loupe-nvim-");
  ws = join(tmp, "ws");
  await cp(WORKSPACE, ws, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(tmp, "c"), LOUPE_RUNTIME_DIR: join(tmp, "r") };
});

afterAll(async () => {
  if (env) await runLoupe(env, "daemon", "stop").catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("loupe lsp in Neovim", () => {
  it("vim.lsp.buf.workspace_symbol lists Loupe's hits, the answering function first, at its line", async () => {
    const out = join(tmp, "quickfix.txt");
    await promisify(execFile)(NVIM, ["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", `luafile ${SCRIPT}`], {
      cwd: ws,
      env: { ...env, NODE: process.execPath, LOUPE_BIN: BIN, WS: ws, QUERY: "call a function again, waiting longer after each failure", OUT: out },
      timeout: 150_000,
    });
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    expect(lines).toContain("# initialized: true");
    expect(lines.some((l) => l.startsWith("# loupe lsp exited"))).toBe(false);
    const hits = lines.filter((l) => !l.startsWith("#"));
    expect(hits[0]).toBe(`${join(ws, "src/retry.py")}:5:[Function] retry_with_backoff`);
    expect(hits.length).toBeGreaterThan(1);
  });
});
