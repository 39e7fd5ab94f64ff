// A real VS Code for the extension's end-to-end test: code-server (installed by
// vscode-extension/scripts/setup-code-server.sh into <repo>/.cache/code-server, or
// $LOUPE_CODE_SERVER_DIR) on a free loopback port, with this repository's extension folder
// linked into a temp extensions folder, driven by Debian's headless Chromium through
// playwright-core (installed beside code-server, not in the lockfile).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";

const REPO = new URL("../..", import.meta.url).pathname;
export const CODE_SERVER_DIR = process.env.LOUPE_CODE_SERVER_DIR || join(REPO, ".cache", "code-server");
const ENTRY = join(CODE_SERVER_DIR, "node_modules", "code-server", "out", "node", "entry.js");
const CHROMIUM = "/usr/bin/chromium";

/** What is missing for the test to run, or null when code-server and Chromium are set up. */
export function codeServerMissing(): string | null {
  if (!existsSync(ENTRY)) return `code-server is not installed in ${CODE_SERVER_DIR}; run \`npm run test:editors\` (it runs vscode-extension/scripts/setup-code-server.sh)`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing; run vscode-extension/scripts/setup-code-server.sh`;
  if (!existsSync(join(REPO, "vscode-extension", "dist", "extension.js"))) return "the extension is not built; run `npm run build`";
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// The few playwright-core shapes the test uses (it is loaded from the code-server folder, untyped).
export interface Locator {
  first(): Locator;
  last(): Locator;
  nth(i: number): Locator;
  filter(o: { hasText: RegExp | string }): Locator;
  locator(selector: string, o?: { hasText: RegExp | string }): Locator;
  getByText(t: string | RegExp, o?: { exact?: boolean }): Locator;
  waitFor(o: { state: "visible" | "attached" | "hidden"; timeout?: number }): Promise<void>;
  textContent(): Promise<string | null>;
  getAttribute(name: string): Promise<string | null>;
  allTextContents(): Promise<string[]>;
  count(): Promise<number>;
  click(): Promise<void>;
  screenshot(o: { path: string }): Promise<Buffer>;
  boundingBox(): Promise<{ x: number; y: number; width: number; height: number } | null>;
}
export interface Page {
  goto(url: string, o?: { timeout?: number }): Promise<unknown>;
  locator(selector: string, o?: { hasText: RegExp | string }): Locator;
  keyboard: { press(key: string): Promise<void>; type(text: string, o?: { delay?: number }): Promise<void> };
  screenshot(o: { path: string; clip?: { x: number; y: number; width: number; height: number } }): Promise<Buffer>;
  waitForTimeout(ms: number): Promise<void>;
  on(event: "pageerror", f: (e: Error) => void): void;
}
interface Browser {
  newPage(o: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

export interface VsCode {
  page: Page;
  /** code-server's output, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

/**
 * Starts code-server on `folder` with the extension linked in and `settings` as the user's
 * settings, and opens the workbench in headless Chromium. `env` reaches the extension host
 * (and so `loupe lsp` and the daemon it starts).
 */
export async function openVsCode(folder: string, tmp: string, settings: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<VsCode> {
  const userData = join(tmp, "user-data");
  const extensions = join(tmp, "extensions");
  const xdg = join(tmp, "xdg");
  await mkdir(join(userData, "User"), { recursive: true });
  await mkdir(extensions, { recursive: true });
  await mkdir(join(xdg, "config"), { recursive: true });
  await mkdir(join(xdg, "data"), { recursive: true });
  await writeFile(join(userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
  const pkg = JSON.parse(await readFile(join(REPO, "vscode-extension", "package.json"), "utf8")) as { publisher: string; name: string; version: string };
  await symlink(join(REPO, "vscode-extension"), join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`));

  const port = await freePort();
  let output = "";
  const server: ChildProcess = spawn(process.execPath, [
    ENTRY, "--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
    "--config", join(xdg, "config", "config.yaml"), "--user-data-dir", userData, "--extensions-dir", extensions, folder,
  ], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...env, XDG_CONFIG_HOME: join(xdg, "config"), XDG_DATA_HOME: join(xdg, "data") } });
  const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-20_000));
  server.stdout!.on("data", keep);
  server.stderr!.on("data", keep);
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once("exit", r));
    try {
      process.kill(-server.pid!, "SIGTERM");
    } catch {
      return;
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    try {
      process.kill(-server.pid!, "SIGKILL");
    } catch {
      // gone
    }
  };

  let browser: Browser | null = null;
  try {
    for (let waited = 0; ; waited += 250) {
      if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}:\n${output}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (waited > 90_000) throw new Error(`code-server did not answer on port ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const { chromium } = createRequire(join(CODE_SERVER_DIR, "package.json"))("playwright-core") as {
      chromium: { launch(o: Record<string, unknown>): Promise<Browser> };
    };
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      env: { ...process.env, XDG_CONFIG_HOME: join(xdg, "config") },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`, { timeout: 90_000 });
    await page.locator(".monaco-workbench").first().waitFor({ state: "visible", timeout: 90_000 });
    const opened = browser;
    return {
      page,
      log: () => output,
      close: async () => {
        await opened.close().catch(() => {});
        await stop();
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    await stop();
    throw e;
  }
}
