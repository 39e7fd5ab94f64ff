import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Tests in real editors: they need code-server, Chromium and Neovim installed, so they run apart (`npm run test:editors`, vitest.editors.config.ts). */
export const EDITOR_TESTS = ["test/e2e/vscode.test.ts", "test/e2e/neovim.test.ts"];

export default defineConfig({
  // Tests import the workspace packages from their sources, like the daemon's own modules, so a
  // LoupeError thrown by daemon code and the class a test names are one class.
  resolve: {
    alias: [
      { find: /^@loupe\/protocol$/, replacement: source("./protocol/src/index.ts") },
      { find: /^@loupe\/protocol\/client$/, replacement: source("./protocol/src/client-entry.ts") },
      { find: /^@loupe\/protocol\/errors$/, replacement: source("./protocol/src/errors.ts") },
      { find: /^@loupe\/mcp\/usage$/, replacement: source("./mcp/src/usage.ts") },
      { find: /^@loupe\/mcp$/, replacement: source("./mcp/src/server.ts") },
      { find: /^@loupe\/lsp$/, replacement: source("./lsp/src/server.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...EDITOR_TESTS, "**/node_modules/**"],
    // onnxruntime-node and TF.js are native/wasm heavy; forks isolate them cleanly.
    pool: "forks",
    // Every test file gets its own Loupe folders; no test can reach the user's daemon or cache.
    setupFiles: ["./test/support/isolate.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ["default", "./test/support/plain-summary.ts"],
  },
});
