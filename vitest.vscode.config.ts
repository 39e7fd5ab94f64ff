// The extension's end-to-end test in a real VS Code (code-server + headless Chromium):
// `npm run test:vscode`, which installs code-server first. The main suite's settings (isolation,
// reporters, aliases), with only that test included.
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/e2e/vscode.test.ts"], exclude: ["**/node_modules/**"] },
});
