// Shared by tests that need the real default pack: converts it once per machine into a cache
// folder under the system temp dir (the conversion itself is checked in reference/parity).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDefaultPack } from "../../daemon/src/model/default-pack.js";

export const TEST_CACHE = process.env.LOUPE_TEST_CACHE ?? join(tmpdir(), `loupe-test-cache-${process.getuid?.() ?? 0}`);

export function testPack() {
  return ensureDefaultPack({ cacheDir: TEST_CACHE });
}
