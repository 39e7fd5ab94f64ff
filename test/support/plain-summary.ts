// Prints the plain closing line CI reads ("N passed, N failed, N skipped"), beside vitest's own
// summary. A test file that fails to load counts as one failure, so a broken import is never
// reported as a clean run. When CI runs several suites (.ci/run), TEST_SUITE_NAME labels each
// suite's line and TEST_COUNTS_FILE collects the counts, so that CI's own last line is the total.
import { appendFileSync } from "node:fs";
import type { Reporter, TestModule } from "vitest/node";

export default class PlainSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of modules) {
      if (module.errors().length > 0) failed++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    const suite = process.env.TEST_SUITE_NAME;
    process.stdout.write(`\n${suite ? `${suite}: ` : ""}${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    if (process.env.TEST_COUNTS_FILE) appendFileSync(process.env.TEST_COUNTS_FILE, `${passed} ${failed} ${skipped}\n`);
  }
}
