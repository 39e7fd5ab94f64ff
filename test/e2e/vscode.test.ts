// Tier: e2e, real VS Code (`npm run test:editors`, its own vitest config; CI runs it after the
// main suite). code-server with this repository's extension linked in, in headless Chromium:
// the extension finds `loupe` from its setting, starts `loupe lsp` (which starts a daemon with
// the default pack in this test's own folders), indexes the fixture workspace, and a user runs
// "Loupe: Search", types a question and opens the hit. Checks the status bar, the QuickPick, the
// editor's file and line, and the results view; saves screenshots of each under
// test/e2e/screenshots/.
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient, type SearchResult } from "@loupe/protocol";
import { BIN, runLoupe } from "../support/cli.js";
import { codeServerMissing, openVsCode, type Page, type VsCode } from "../support/code-server.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;
const SHOTS = new URL("./screenshots/", import.meta.url).pathname;
const QUERY = "call a function again, waiting longer after each failure";

let tmp: string;
let ws: string;
let env: NodeJS.ProcessEnv;
let vs: VsCode;
let page: Page;

/** Polls `read` until it matches, else fails with the last value seen. */
async function until(what: string, read: () => Promise<string | null>, pattern: RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  let last: string | null = null;
  for (;;) {
    last = await read().catch(() => null);
    if (last !== null && pattern.test(last)) return last;
    if (Date.now() > end) {
      const shot = join(SHOTS, `failed-${what.replace(/\W+/g, "-")}.png`);
      await page.screenshot({ path: shot }).catch(() => {});
      const bar = await page.locator(".statusbar-item").allTextContents().catch(() => []);
      throw new Error(`${what}: waited ${ms / 1000} s for ${pattern}, last saw ${JSON.stringify(last)} (screenshot ${shot}; status bar ${JSON.stringify(bar)})\n--- code-server log ---\n${vs.log().slice(-3_000)}`);
    }
    await page.waitForTimeout(250);
  }
}

beforeAll(async () => {
  const missing = codeServerMissing();
  if (missing) throw new Error(missing);
  tmp = await mkdtemp("/tmp/loupe-vsc-");
  ws = join(tmp, "shop");
  await cp(WORKSPACE, ws, { recursive: true });
  await mkdir(SHOTS, { recursive: true });
  env = { ...process.env, LOUPE_CACHE_DIR: join(tmp, "c"), LOUPE_RUNTIME_DIR: join(tmp, "r") };
  vs = await openVsCode(ws, join(tmp, "vscode"), {
    "loupe.path": BIN,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "security.workspace.trust.enabled": false,
    "extensions.ignoreRecommendations": true,
    "telemetry.telemetryLevel": "off",
    "chat.commandCenter.enabled": false,
  }, env);
  page = vs.page;
}, 180_000);

afterAll(async () => {
  await vs?.close();
  if (env) await runLoupe(env, "daemon", "stop").catch(() => {});
  if (tmp && !process.env.LOUPE_E2E_KEEP) await rm(tmp, { recursive: true, force: true });
});

describe("the VS Code extension in code-server", () => {
  it("shows indexing, then what is indexed, in the status bar", async () => {
    const item = page.locator(".statusbar-item", { hasText: /Loupe/ }).first();
    await until("status bar", () => item.textContent(), /Loupe 7 files/, 100_000);
    await page.locator(".part.statusbar").screenshot({ path: join(SHOTS, "status-bar.png") });
  });

  it("Loupe: Search ranks as you type, and Enter opens the answering lines", async () => {
    await page.keyboard.press("F1");
    await page.keyboard.type("Loupe: Search");
    await until("command palette", () => page.locator(".quick-input-list .monaco-list-row").first().textContent(), /Loupe: Search/);
    await page.keyboard.press("Enter");
    await until("search box", () => page.locator(".quick-input-widget input").first().getAttribute("placeholder"), /Search code and notes/);
    await page.keyboard.type(QUERY, { delay: 15 });
    const first = page.locator(".quick-input-list .monaco-list-row").first();
    await until("first hit", () => first.textContent(), /retry_with_backoff/);
    await page.screenshot({ path: join(SHOTS, "quickpick.png") });
    // The line the daemon's top hit answers with, asked directly (the same search the extension makes).
    const client = await DaemonClient.connect({ socketPath: join(tmp, "r", "loupe.sock"), start: false, name: "e2e-vscode" });
    let expected: SearchResult;
    try {
      expected = await client.search({ query: QUERY, k: 20, mode: "hybrid", roots: [ws] });
    } finally {
      client.close();
    }
    expect(expected.hits[0]).toMatchObject({ path: "src/retry.py", symbol: "retry_with_backoff" });
    await page.keyboard.press("Enter");
    await until("active tab", () => page.locator(".tab.active").first().textContent(), /retry\.py/);
    await until("cursor", () => page.locator(".statusbar-item", { hasText: /Ln \d+, Col \d+/ }).first().textContent(), new RegExp(`Ln ${expected.hits[0]!.snippetStartLine}, Col 1\\b`));
  });

  it("keeps the hits in the Loupe Results view, grouped by file", async () => {
    // Room for the results: fold the folder's own tree.
    const folderHeader = page.locator(".pane-header", { hasText: /^shop$/i }).first();
    if ((await folderHeader.getAttribute("aria-expanded")) === "true") await folderHeader.click();
    const header = page.locator(".pane-header", { hasText: /Loupe Results/ }).first();
    await header.waitFor({ state: "visible", timeout: 30_000 });
    if ((await header.getAttribute("aria-expanded")) !== "true") await header.click();
    const rows = page.locator(".pane-body .monaco-list-row", { hasText: /retry_with_backoff|src\/retry\.py/ });
    await until("results view", () => rows.first().textContent(), /src\/retry\.py|retry_with_backoff/);
    await page.screenshot({ path: join(SHOTS, "results-view.png") });
  });

  /** Runs a command from the command palette (F1). */
  async function command(title: string): Promise<void> {
    await page.keyboard.press("F1");
    await page.keyboard.type(title);
    await until("command palette", () => page.locator(".quick-input-list .monaco-list-row").first().textContent(), new RegExp(title));
    await page.keyboard.press("Enter");
  }

  it("Loupe: Explain Result shows the concepts and words a hit shares with the query", async () => {
    await command("Loupe: Explain Result");
    await until("explain picker", () => page.locator(".quick-input-widget input").first().getAttribute("placeholder"), /Explain which result/);
    await page.keyboard.press("Enter");
    await until("explanation", () => page.locator(".monaco-editor .view-lines").last().textContent(), /Why.src\/retry\.py:\d+-\d+.matches.*Shared.concepts.*Matched.words/);
  });

  it("Loupe: Find Similar on the function at the cursor fills the view with related code", async () => {
    await page.locator(".tab", { hasText: /retry\.py/ }).first().click();
    await command("Loupe: Find Similar");
    await until("similar", () => page.locator(".pane-body .monaco-tl-twistie, .pane-body .message, .pane-body").filter({ hasText: /hits for passages like src\/retry\.py:\d+-\d+/ }).first().textContent(), /hits for passages like src\/retry\.py:5-13/);
  });
});

describe("the VS Code extension without a loupe executable", () => {
  it("says in the status bar and in a notification what is missing and how to fix it", async () => {
    const dir = await mkdtemp("/tmp/loupe-vsc-missing-");
    const other = await openVsCode(ws, join(dir, "vscode"), {
      "loupe.path": join(dir, "no-such-loupe"),
      "workbench.startupEditor": "none",
      "security.workspace.trust.enabled": false,
      "telemetry.telemetryLevel": "off",
    }, env);
    try {
      const p = other.page;
      const item = p.locator(".statusbar-item", { hasText: /Loupe/ }).first();
      const read = async (what: string, get: () => Promise<string | null>, pattern: RegExp) => {
        for (let waited = 0; waited < 60_000; waited += 250) {
          const v = await get().catch(() => null);
          if (v !== null && pattern.test(v)) return v;
          await p.waitForTimeout(250);
        }
        await p.screenshot({ path: join(SHOTS, `failed-${what}.png`) }).catch(() => {});
        throw new Error(`${what}: no ${pattern} within 60 s`);
      };
      await read("missing-status", () => item.textContent(), /Loupe: not found/);
      await read("missing-notification", () => p.locator(".notifications-toasts").first().textContent(), /no-such-loupe, which does not exist.*Install Loupe/);
    } finally {
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
