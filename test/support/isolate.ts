// Runs before every test file (vitest `setupFiles`): no test may reach the user's own daemon,
// cache or settings, whatever their shell exports. Every variable Loupe reads to find its
// folders is replaced by a fresh temp folder of this file's own (HOME too, for the ~/.cache
// fallback), and the ones that point elsewhere are removed. LOUPE_TEST_CACHE (the converted test
// pack, shared on purpose), LOUPE_CRASH_ROUNDS, LOUPE_FAULTS_REPORT, LOUPE_E2E_KEEP (keep the VS Code test's temp folder),
// LOUPE_TEST_REQUIRE_LUCENE (CI: the Lucene test must run) and LOUPE_TEST_OPENSEARCH_URL (opt in to the test against a real
// cluster; a user's own LOUPE_OPENSEARCH_URL is removed like every other setting) are test settings, not Loupe's, and stay.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";

/** What the user's environment said, for the test that checks nothing leaks through. */
export const USER_ENV = {
  LOUPE_SOCKET: process.env.LOUPE_SOCKET,
  LOUPE_CACHE_DIR: process.env.LOUPE_CACHE_DIR,
  LOUPE_RUNTIME_DIR: process.env.LOUPE_RUNTIME_DIR,
  XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR,
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
  HOME: process.env.HOME,
};
(globalThis as { __loupeUserEnv?: typeof USER_ENV }).__loupeUserEnv ??= USER_ENV;

/** Settings of the tests themselves, not variables Loupe reads. */
const TEST_SETTINGS = new Set(["LOUPE_TEST_CACHE", "LOUPE_CRASH_ROUNDS", "LOUPE_FAULTS_REPORT", "LOUPE_E2E_KEEP", "LOUPE_TEST_REQUIRE_LUCENE", "LOUPE_TEST_OPENSEARCH_URL"]);

// Short: a Unix socket path must stay under 108 bytes.
const dir = mkdtempSync("/tmp/loupe-t-");
(globalThis as { __loupeIsolatedDir?: string }).__loupeIsolatedDir = dir;
for (const name of Object.keys(process.env)) {
  if (name.startsWith("LOUPE_") && !TEST_SETTINGS.has(name)) delete process.env[name];
}
for (const name of ["XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"]) delete process.env[name];
process.env.LOUPE_CACHE_DIR = join(dir, "cache");
process.env.LOUPE_RUNTIME_DIR = join(dir, "run");
process.env.HOME = join(dir, "home");

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
