// Tier: integration (real file system, real processes; needs `npm run build`, which `npm test`
// does first). A writer child process is killed with SIGKILL at random points while it adds,
// deletes, commits and merges; after every kill the index must open without error and hold
// exactly the chunks of the batches committed so far, each once, and nothing of a later batch.
// LOUPE_CRASH_ROUNDS sets the number of kills (default 100, about 30 s on 2 cores); a long run,
// e.g. LOUPE_CRASH_ROUNDS=2000, is the bench variant (docs/benchmarks.md).
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { FsDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
// @ts-expect-error -- plain JavaScript shared with the child process, no type declarations
import { expected } from "../support/crash-plan.mjs";
import { rng } from "../support/index-oracle.js";

const WRITER = new URL("../support/crash-writer.mjs", import.meta.url).pathname;
const ROUNDS = Number(process.env.LOUPE_CRASH_ROUNDS ?? 100);
const OPTS = { pack: "sha256:crash", analyzer: 1 };
const temps: string[] = [];

afterAll(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

/**
 * Starts the writer, waits until it has opened the index and made `commits` commits, lets it
 * work `ms` more, then SIGKILLs it. Counting commits rather than only waiting makes every round
 * progress however loaded the machine is (a timed kill alone made too little progress under load).
 */
function runAndKill(dir: string, commits: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let lines = 0;
    let armed = false;
    child.stdout.on("data", (d: Buffer) => {
      lines += d.toString().split("\n").length - 1;
      // The first line is "ready"; each later one is a commit.
      if (!armed && lines >= 1 + commits) {
        armed = true;
        setTimeout(() => child.kill("SIGKILL"), ms);
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`writer exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

async function check(dir: string): Promise<number> {
  const index = await Index.open(await FsDirectory.open(dir), OPTS);
  await index.close(); // the next writer takes the folder's lock; this snapshot stays readable
  const last = (index.commitData?.batch as number | undefined) ?? 0;
  const want: Set<string> = expected(last);
  const s = index.searcher();
  const seen = new Map<string, number>();
  for (const doc of s.liveDocNumbers()) {
    const h = s.chunk(doc).hash;
    seen.set(h, (seen.get(h) ?? 0) + 1);
  }
  const extra = [...seen.keys()].filter((h) => !want.has(h));
  const missing = [...want].filter((h) => !seen.has(h));
  const twice = [...seen].filter(([, n]) => n > 1).map(([h]) => h);
  expect({ extra, missing, twice }, `after batch ${last}`).toEqual({ extra: [], missing: [], twice: [] });
  return last;
}

describe("index crash safety", () => {
  it(`survives ${ROUNDS} SIGKILLs during adds, commits and merges`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-crash-"));
    temps.push(dir);
    const random = rng(2024);
    const progress: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await runAndKill(dir, Math.floor(random() * 2), Math.floor(random() * 30));
      const last = await check(dir);
      // A commit, once made, is never lost (a lost manifest would read as an empty index).
      expect(last).toBeGreaterThanOrEqual(progress[progress.length - 1] ?? 0);
      progress.push(last);
    }
    // The kills landed at many different points, and the writer got somewhere between them.
    expect(new Set(progress).size).toBeGreaterThan(ROUNDS / 4);
    expect(progress[progress.length - 1]).toBeGreaterThan(20);
  }, 600_000);

  it("refuses a real index with any byte of any file flipped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "loupe-corrupt-"));
    temps.push(dir);
    const index = await Index.open(await FsDirectory.open(dir), OPTS);
    const random = rng(3);
    const { batch } = await import("../support/crash-plan.mjs" as string);
    for (let b = 1; b <= 6; b++) {
      for (const c of batch(b).chunks) await index.add(c);
      if (b === 5) index.deletePath("b1/f0.ts");
      await index.commit({ batch: b });
    }
    await index.close();
    for (const name of (await readdir(dir)).filter((n) => !n.startsWith("writer.lock"))) {
      const path = join(dir, name);
      const original = await readFile(path);
      const at = Math.floor(random() * original.length);
      const damaged = Buffer.from(original);
      damaged[at] = damaged[at]! ^ 0x40;
      await writeFile(path, damaged);
      const error = await Index.open(await FsDirectory.open(dir), OPTS).then(() => null, (e: unknown) => e);
      expect(error, name).toBeInstanceOf(LoupeError);
      expect((error as LoupeError).code).toBe(ErrorCode.IndexCorrupt);
      expect((error as LoupeError).message).toContain("loupe reindex");
      await writeFile(path, original);
    }
    await expect(Index.open(await FsDirectory.open(dir), OPTS)).resolves.toBeDefined();
  });
});
