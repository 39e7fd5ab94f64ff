// Tier: unit (in-memory directory). Commit, reopen, snapshots, leftover-file cleanup, refusal
// of another pack or analyzer, damage detection in every file, and the merge policy's bound.
import { describe, expect, it } from "vitest";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { DEFAULT_MERGE_POLICY, pickMerges } from "../../daemon/src/index/merge-policy.js";
import { META_FILE } from "../../daemon/src/index/meta.js";
import { latentQuery } from "../../daemon/src/index/terms.js";
import { randomChunk, rng } from "../support/index-oracle.js";

const OPTS = { pack: "sha256:aaaa", analyzer: 1 };

async function filled(dir = new MemoryDirectory(), chunks = 50, seed = 1): Promise<{ dir: MemoryDirectory; index: Index }> {
  const index = await Index.open(dir, OPTS);
  const random = rng(seed);
  for (let i = 0; i < chunks; i++) await index.add(randomChunk(random, i));
  await index.commit({ batch: 1 });
  return { dir, index };
}

async function openError(dir: MemoryDirectory, options = OPTS): Promise<LoupeError> {
  try {
    await Index.open(dir, options);
  } catch (e) {
    if (e instanceof LoupeError) return e;
    throw e;
  }
  throw new Error("open succeeded");
}

describe("index lifecycle", () => {
  it("reopens what was committed, chunk metadata included, and nothing uncommitted", async () => {
    const { dir, index } = await filled();
    const chunk = randomChunk(rng(1), 0);
    await index.add(randomChunk(rng(2), 999)); // never committed
    await index.close();
    const again = await Index.open(dir, OPTS);
    const s = again.searcher();
    expect(s.liveDocs).toBe(50);
    expect(again.commitData).toEqual({ batch: 1 });
    const { lexical: _l, latent: _z, ...meta } = chunk;
    expect(s.chunk(0)).toEqual(meta);
    const hit = s.search(latentQuery(chunk.latent!), 1)[0]!;
    expect(hit).toBeDefined();
  });

  it("a searcher is a snapshot: later commits, deletes and merges do not change it", async () => {
    const { index } = await filled();
    const before = index.searcher();
    const q = latentQuery(randomChunk(rng(1), 0).latent!);
    const hits = before.search(q, 5);
    index.deletePath(before.chunk(hits[0]!.doc).path);
    await index.add(randomChunk(rng(3), 500));
    await index.commit();
    await index.merge({ ...DEFAULT_MERGE_POLICY, factor: 2, minDocs: 1 });
    expect(before.search(q, 5)).toEqual(hits);
    expect(index.searcher().search(q, 5)).not.toEqual(hits);
  });

  it("deletes files no manifest names, and leftovers of an interrupted commit", async () => {
    const { dir, index } = await filled();
    await index.close();
    const named = new Set(await dir.list());
    await dir.write("s9_deadbeef.post", [Buffer.from("half a segment")]);
    await dir.write(`${META_FILE}.7.tmp`, [Buffer.from("half a manifest")]);
    await Index.open(dir, OPTS);
    expect(new Set(await dir.list())).toEqual(named);
  });

  it("has one writer at a time: a second open is refused with INDEX_LOCKED until the first closes", async () => {
    const { dir, index } = await filled();
    const e = await openError(dir);
    expect(e.code).toBe(ErrorCode.IndexLocked);
    expect(e.message).toContain("only one Loupe daemon");
    await index.close();
    const again = await Index.open(dir, OPTS);
    expect(again.searcher().liveDocs).toBe(50);
  });

  it("refuses an index of another model pack, naming both and the way out", async () => {
    const { dir, index } = await filled();
    await index.close();
    const e = await openError(dir, { ...OPTS, pack: "sha256:bbbb" });
    expect(e.code).toBe(ErrorCode.IndexPackMismatch);
    expect(e.message).toMatch(/sha256:aaaa.*sha256:bbbb.*loupe reindex/s);
  });

  it("refuses an index of another analyzer version", async () => {
    const { dir, index } = await filled();
    await index.close();
    const e = await openError(dir, { ...OPTS, analyzer: 2 });
    expect(e.code).toBe(ErrorCode.IndexVersion);
    expect(e.message).toContain("loupe reindex");
  });

  it("detects a flipped byte anywhere in any file, a truncated file and a missing file", async () => {
    const { dir, index } = await filled(new MemoryDirectory(), 40);
    index.deletePath(index.searcher().chunk(0).path);
    await index.commit();
    await index.close();
    const names = await dir.list();
    expect(names.some((n) => n.endsWith(".del"))).toBe(true);
    const random = rng(42);
    for (const name of names) {
      const original = dir.files.get(name)!;
      const positions = [0, 9, 13, original.length - 1, original.length - 6, ...Array.from({ length: 12 }, () => Math.floor(random() * original.length))];
      for (const at of positions) {
        const damaged = Buffer.from(original);
        damaged[at] = damaged[at]! ^ (1 + Math.floor(random() * 255));
        dir.files.set(name, damaged);
        const e = await openError(dir);
        expect(e.code, `${name} byte ${at}`).toBe(ErrorCode.IndexCorrupt);
        expect(e.message).toContain(name);
        expect(e.message).toContain("loupe reindex");
      }
      dir.files.set(name, original.subarray(0, original.length - 3));
      expect((await openError(dir)).code).toBe(ErrorCode.IndexCorrupt);
      // Without a manifest a folder is a fresh index (its files are an unfinished first commit).
      if (name !== META_FILE) {
        dir.files.delete(name);
        expect((await openError(dir)).code).toBe(ErrorCode.IndexCorrupt);
      }
      dir.files.set(name, original);
    }
    await expect(Index.open(dir, OPTS)).resolves.toBeDefined();
  });

  it("keeps the segment count logarithmic under steady small commits", () => {
    const policy = { ...DEFAULT_MERGE_POLICY, factor: 4, minDocs: 10 };
    let segments: Array<{ docs: number; deleted: number }> = [];
    let maxSeen = 0;
    for (let commit = 1; commit <= 3000; commit++) {
      segments.push({ docs: 10, deleted: 0 });
      for (let groups = pickMerges(segments, policy); groups.length > 0; groups = pickMerges(segments, policy)) {
        for (const g of groups) {
          const merged = { docs: g.reduce((a, i) => a + segments[i]!.docs - segments[i]!.deleted, 0), deleted: 0 };
          segments = [...segments.filter((_, i) => !g.includes(i)), merged];
        }
      }
      maxSeen = Math.max(maxSeen, segments.length);
    }
    // 30,000 docs in tiers of factor 4 above 10 docs: at most (4 − 1) per tier, log4(3000) ≈ 6 tiers.
    expect(segments.reduce((a, s) => a + s.docs, 0)).toBe(30_000);
    expect(maxSeen).toBeLessThanOrEqual(3 * 7 + 1);
  });

  it("rewrites a segment whose deleted share passes the limit", () => {
    expect(pickMerges([{ docs: 100, deleted: 40 }, { docs: 100, deleted: 0 }], DEFAULT_MERGE_POLICY)).toEqual([[0]]);
  });

  it("never merges past maxDocs, even two segments (the compaction that keeps 16-bit doc ids)", () => {
    const compact = { ...DEFAULT_MERGE_POLICY, factor: 2, minDocs: 65_536, maxDocs: 65_536 };
    expect(pickMerges([{ docs: 40_000, deleted: 0 }, { docs: 40_000, deleted: 0 }], compact)).toEqual([]);
    expect(pickMerges([{ docs: 40_000, deleted: 0 }, { docs: 20_000, deleted: 0 }, { docs: 30_000, deleted: 0 }], compact)).toEqual([[0, 1]]);
  });
});
