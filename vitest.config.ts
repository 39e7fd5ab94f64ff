import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // onnxruntime-node and TF.js are native/wasm heavy; forks isolate them cleanly.
    pool: "forks",
    // Every test file gets its own Loupe folders; no test can reach the user's daemon or cache.
    setupFiles: ["./test/support/isolate.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ["default", "./test/support/plain-summary.ts"],
  },
});
