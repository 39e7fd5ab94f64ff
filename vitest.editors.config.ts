// The editor suite: the extension in a real VS Code (code-server + headless Chromium) and
// `loupe lsp` in headless Neovim. `npm run test:editors`, which installs both first. The main
// suite's settings (isolation, reporters, aliases), with only these tests included.
import { defineConfig } from "vitest/config";
import base, { EDITOR_TESTS } from "./vitest.config.js";

export default defineConfig({
  ...base,
  test: { ...base.test, include: EDITOR_TESTS, exclude: ["**/node_modules/**"] },
});
