// Tier: unit. Tests never touch the user's daemon, cache or settings: test/support/isolate.ts
// (a setup file) gives every test file its own folders. .ci/run exports a user-like
// LOUPE_SOCKET, XDG_RUNTIME_DIR and XDG_CACHE_HOME, so this fails there if isolation breaks.
import { homedir } from "node:os";
import { describe, expect, it } from "vitest";
import { cacheDir, runtimeDir, socketPath } from "@loupe/protocol";

// Set by the setup file; not imported, so this test fails when the setup file is not configured.
const ISOLATED_DIR = (globalThis as { __loupeIsolatedDir?: string }).__loupeIsolatedDir ?? "(no isolation set up)";
const user = (globalThis as { __loupeUserEnv?: Record<string, string | undefined> }).__loupeUserEnv ?? {};

describe("test isolation", () => {
  it("puts Loupe's socket, runtime and cache folders inside this file's temp folder", () => {
    for (const p of [socketPath(), runtimeDir(), cacheDir(), homedir()]) expect(p.startsWith(`${ISOLATED_DIR}/`), p).toBe(true);
  });

  it("leaves nothing of the user's environment for Loupe to read", () => {
    for (const [name, value] of Object.entries(user)) {
      if (!value) continue;
      for (const p of [socketPath(), runtimeDir(), cacheDir()]) expect(p.startsWith(value), `${name}=${value} leaked into ${p}`).toBe(false);
    }
    expect(process.env.LOUPE_SOCKET).toBeUndefined();
    expect(process.env.XDG_RUNTIME_DIR).toBeUndefined();
  });
});
