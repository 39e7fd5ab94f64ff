// The editor suite: the extension in a real VS Code (code-server + headless Chromium) and
// `loupe lsp` in headless Neovim. `npm run test:editors`, which installs both first. The main
// suite's settings (isolation, reporters, aliases), with only these tests included.
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export const EDITOR_TESTS = ["test/e2e/vscode.test.ts", "test/e2e/neovim.test.ts"];

export default defineConfig({
  ...base,
  test: { ...base.test, include: EDITOR_TESTS, exclude: ["**/node_modules/**"] },
});
