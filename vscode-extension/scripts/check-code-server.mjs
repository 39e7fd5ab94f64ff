#!/usr/bin/env node
// End-to-end check of the code-server install made by setup-code-server.sh: starts code-server on
// a free 127.0.0.1 port with a small temp folder open, loads the workbench in Debian's headless
// Chromium through playwright-core, waits for the workbench and the folder's files in the
// Explorer, and saves a screenshot to /tmp/cs-check/workbench.png.
//
//   node vscode-extension/scripts/check-code-server.mjs
//
// Uses $LOUPE_CODE_SERVER_DIR (default <repo>/.cache/code-server), like the setup script.
// Exits non-zero with a message on failure; stops code-server and Chromium before exiting.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(scriptDir, '..', '..');
const dir = process.env.LOUPE_CODE_SERVER_DIR || join(repoDir, '.cache', 'code-server');
const entry = join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const chromiumPath = '/usr/bin/chromium';
const outDir = '/tmp/cs-check';
const screenshot = join(outDir, 'workbench.png');
const TOTAL_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 90_000;

function fail(message) {
  const err = new Error(message);
  err.isCheckFailure = true;
  throw err;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server; // code-server child (its own process group)
let browser;
let tmpRoot;
let serverLog = '';

function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
      done();
    }, 5_000);
    server.once('exit', () => {
      clearTimeout(timer);
      // Children (pty host, extension host) share the group; make sure none is left.
      try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
      done();
    });
    try { process.kill(-server.pid, 'SIGTERM'); } catch { clearTimeout(timer); done(); }
  });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = undefined;
  await stopServer();
  if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = undefined;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup().finally(() => process.exit(130));
  });
}

async function waitForHealth(port) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      fail(`code-server exited early (code ${server.exitCode}, signal ${server.signalCode})`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await sleep(250);
  }
  fail(`code-server did not answer /healthz on port ${port} within ${STEP_TIMEOUT_MS / 1000}s`);
}

async function main() {
  const t0 = Date.now();
  if (!existsSync(entry)) {
    fail(`code-server not found at ${entry}; run vscode-extension/scripts/setup-code-server.sh first`);
  }
  if (!existsSync(chromiumPath)) fail(`${chromiumPath} not found; run setup-code-server.sh first`);
  let chromium;
  try {
    ({ chromium } = createRequire(join(dir, 'package.json'))('playwright-core'));
  } catch (e) {
    fail(`cannot load playwright-core from ${dir} (${e.message}); run setup-code-server.sh first`);
  }

  tmpRoot = mkdtempSync(join(tmpdir(), 'cs-check-'));
  const folder = join(tmpRoot, 'loupe-sample');
  mkdirSync(join(folder, 'src'), { recursive: true });
  writeFileSync(join(folder, 'README.md'), '# Loupe sample\n\nA folder opened by check-code-server.mjs.\n');
  writeFileSync(join(folder, 'src', 'hello.ts'), 'export const hello = (name: string) => `hello ${name}`;\n');
  for (const d of ['user-data', 'extensions', 'config', 'data']) mkdirSync(join(tmpRoot, d));

  const port = await freePort();
  const args = [
    entry,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--config', join(tmpRoot, 'config', 'config.yaml'),
    '--user-data-dir', join(tmpRoot, 'user-data'),
    '--extensions-dir', join(tmpRoot, 'extensions'),
    folder,
  ];
  console.log(`starting code-server on 127.0.0.1:${port} with ${folder}`);
  server = spawn(process.execPath, args, {
    detached: true, // own process group, so stopServer() reaches every child
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // code-server writes a default config and logs under the XDG dirs: keep them in the temp dir.
      XDG_CONFIG_HOME: join(tmpRoot, 'config'),
      XDG_DATA_HOME: join(tmpRoot, 'data'),
    },
  });
  const keep = (chunk) => { serverLog = (serverLog + chunk).slice(-8_000); };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  await waitForHealth(port);
  console.log(`code-server healthy after ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Chromium's crash-report folder follows XDG_CONFIG_HOME, not --user-data-dir: keep it in tmp.
    env: { ...process.env, XDG_CONFIG_HOME: join(tmpRoot, 'config') },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
  console.log(`chromium ${browser.version()}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`,
    { timeout: STEP_TIMEOUT_MS });
  try {
    await page.locator('.monaco-workbench').first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  } catch {
    fail(`the VS Code workbench (.monaco-workbench) did not appear; page errors: ${pageErrors.join(' | ') || 'none'}`);
  }
  console.log(`workbench visible after ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  // The folder is open when the Explorer lists its files.
  const explorer = page.locator('.explorer-folders-view');
  try {
    await explorer.getByText('README.md', { exact: true }).waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await explorer.getByText('src', { exact: true }).waitFor({ state: 'visible', timeout: 10_000 });
  } catch {
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: screenshot }).catch(() => {});
    fail(`the Explorer did not list the opened folder's files (screenshot: ${screenshot})`);
  }
  const title = await page.title();
  if (!title.includes(basename(folder))) fail(`window title "${title}" does not name the folder ${basename(folder)}`);
  await sleep(1_500); // let the welcome page and status bar settle before the picture

  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: screenshot });
  console.log(`title: ${title}`);
  console.log(`screenshot: ${screenshot}`);
  console.log(`OK: VS Code workbench with ${basename(folder)} open in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

const watchdog = setTimeout(() => {
  console.error(`check-code-server: FAILED: no result within ${TOTAL_TIMEOUT_MS / 1000}s`);
  cleanup().finally(() => process.exit(1));
}, TOTAL_TIMEOUT_MS);

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  console.error(`check-code-server: FAILED: ${e.isCheckFailure ? e.message : e.stack || e}`);
  if (serverLog) console.error(`--- code-server output (tail) ---\n${serverLog}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(code);
