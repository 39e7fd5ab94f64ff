// Tier: unit (real temp folder). The one-shot folder walk skips what it cannot index, with reasons
// (the rules themselves are tested in ignore.test.ts; this checks scanFolder keeps the texts).
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_FILE_BYTES, scanFolder } from "../../daemon/src/workspace/scan.js";

describe("scanFolder", () => {
  it("reads text files and reports every skipped one", async () => {
    const root = await mkdtemp(join(tmpdir(), "loupe-scan-"));
    await mkdir(join(root, "src"));
    await mkdir(join(root, "node_modules"));
    await writeFile(join(root, "src", "a.ts"), "export const a = 1;\n");
    await writeFile(join(root, "node_modules", "x.js"), "ignored");
    await writeFile(join(root, "image.png"), Buffer.from([0x89, 0x50, 0x00, 0x01]));
    await writeFile(join(root, "bad.txt"), Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    await writeFile(join(root, "huge.log"), Buffer.alloc(MAX_FILE_BYTES + 1, 0x61));
    await symlink(root, join(root, "loop"));
    const { files, skipped } = await scanFolder(root);
    expect(files).toEqual([{ path: "src/a.ts", text: "export const a = 1;\n" }]);
    const reasons = Object.fromEntries(skipped.map((s) => [s.path, s.reason]));
    expect(reasons).toMatchObject({
      node_modules: expect.stringMatching(/dependency or build folder/),
      "image.png": expect.stringMatching(/^binary/),
      "bad.txt": "invalid UTF-8",
      loop: expect.stringMatching(/^symbolic link/),
    });
    expect(reasons["huge.log"]).toMatch(/larger than/);
  });
});
