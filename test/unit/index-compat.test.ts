// Tier: unit (reads committed files into the in-memory directory, so the fixtures are never
// touched). fixtures/index/vN is an index written by format version N (fixtures/index/make-vN.mjs).
// Every later Loupe must open and search it, or refuse it with INDEX_VERSION once format N is
// retired; this test is never edited to fit new output. Format 1 was retired by format 2 (no
// chunk text in the store, 16-bit doc ids): a daemon rebuilds such an index from the files.
// Format 3 (doc ids as varint gaps) still reads format 2: v2 and v3 hold the same index. Format 4
// reads both; v4 holds the same index again, plus how two chunks were read (glossedFrom, readable).
import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "@loupe/protocol";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { latentQuery, lexicalQuery } from "../../daemon/src/index/terms.js";

async function openFixture(version: number): Promise<Index> {
  const folder = new URL(`../../fixtures/index/v${version}`, import.meta.url).pathname;
  const dir = new MemoryDirectory();
  for (const name of await readdir(folder)) dir.files.set(name, await readFile(`${folder}/${name}`));
  return Index.open(dir, { pack: `sha256:fixture-v${version}`, analyzer: 1 });
}
const openV1 = () => openFixture(1);

const paths = (index: Index, hits: Array<{ doc: number }>) => hits.map((h) => index.searcher().chunk(h.doc).path);

describe("format v1 fixture (retired)", () => {
  it("is refused with INDEX_VERSION, naming the fix", async () => {
    await expect(openV1()).rejects.toMatchObject({ code: ErrorCode.IndexVersion, message: expect.stringContaining("loupe reindex") });
  });
});

/** A chunk without how its latent vector was read (format 4 records it; 2 and 3 do not). */
const asWritten = <T extends object>(c: T) => {
  const { glossedFrom: _g, readable: _r, ...rest } = c as T & { glossedFrom?: string; readable?: number };
  return rest;
};

// Formats 2, 3 and 4 hold the same index (format 3 codes doc ids as varint gaps).
describe.each([2, 3, 4])("format v%i fixture", (version) => {
  const open = () => openFixture(version);

  it("opens with its three commits, two segments and one delete", async () => {
    const index = await open();
    const s = index.searcher();
    expect(index.generation).toBe(3);
    expect(index.commitData).toEqual({ note: "third" });
    expect(s.segments.length).toBe(2);
    expect(s.totalDocs).toBe(6);
    expect(s.liveDocs).toBe(5);
    const all = [...s.liveDocNumbers()].map((d) => asWritten(s.chunk(d)));
    expect(all.map((c) => c.path)).toEqual(["src/net/retry.ts", "src/net/fetch.ts", "docs/retry.md", "src/db/pool.ts", "dist/app.min.js"]);
    expect(all[2]).toEqual({ path: "docs/retry.md", startLine: 1, endLine: 2, symbol: "Retries", hash: "h:docs/retry.md:1", root: "/ws", language: "markdown" });
    expect(all[4]).toEqual({ path: "dist/app.min.js", startLine: 1, endLine: 1, startCol: 1500, endCol: 2990, symbol: "", hash: "h:dist/app.min.js:1", root: "/ws", language: "js" });
  });

  it("searches latents, lexical terms and filters as it did when written", async () => {
    const index = await open();
    const s = index.searcher();
    const q = latentQuery({ ids: Uint32Array.from([3, 9]), weights: Float32Array.from([1, 1]) });
    const hits = s.search(q, 10);
    expect(paths(index, hits)).toEqual(["docs/retry.md", "src/net/retry.ts"]);
    expect(hits.map((h) => h.score)).toEqual([3.75, 2.5]);
    expect(paths(index, s.search(lexicalQuery(["backoff", "exponential"]), 10))).toEqual(["docs/retry.md", "src/net/retry.ts"]);
    expect(paths(index, s.search(q, 10, { filter: { languages: ["typescript"] } }))).toEqual(["src/net/retry.ts"]);
    expect(paths(index, s.search(latentQuery({ ids: Uint32Array.from([9]), weights: Float32Array.from([1]) }), 10))).toEqual(["docs/retry.md"]);
    expect(paths(index, s.search(lexicalQuery(["pool"]), 10, { filter: { pathGlob: "src/**" } }))).toEqual(["src/db/pool.ts"]);
    expect(paths(index, s.search(latentQuery({ ids: Uint32Array.from([40]), weights: Float32Array.from([1]) }), 10))).toEqual(["dist/app.min.js", "src/net/retry.ts"]);
  });
});

describe("how format 4 records the latent channel's reading", () => {
  it("reads it back per chunk, and reads chunks of formats 2 and 3 as written and fully readable", async () => {
    const v4 = (await openFixture(4)).searcher();
    const readings = [...v4.liveDocNumbers()].map((d) => v4.chunk(d)).map((c) => [c.path, c.glossedFrom, c.readable]);
    expect(readings).toEqual([
      ["src/net/retry.ts", undefined, undefined],
      ["src/net/fetch.ts", undefined, undefined],
      ["docs/retry.md", "de", undefined],
      ["src/db/pool.ts", undefined, undefined],
      ["dist/app.min.js", undefined, 51 / 255],
    ]);
    for (const version of [2, 3]) {
      const s = (await openFixture(version)).searcher();
      for (const d of s.liveDocNumbers()) expect(s.chunk(d)).not.toHaveProperty("glossedFrom");
      for (const d of s.liveDocNumbers()) expect(s.chunk(d)).not.toHaveProperty("readable");
    }
  });

  it("keeps it through a merge that rewrites format 3 segments", async () => {
    const index = await openFixture(3);
    await index.add({
      path: "notes/zeitlimit.md", startLine: 1, endLine: 2, symbol: "Zeitlimit", hash: "h:zeit", root: "/ws", language: "markdown", glossedFrom: "de", readable: 0.5,
      lexical: ["zeitlimit", "backoff"], latent: { ids: Uint32Array.from([3]), weights: Float32Array.from([1]) },
    });
    await index.commit();
    expect(await index.merge({ factor: 2, minDocs: 100, maxDocs: 1000, maxDeletedRatio: 0 })).toBeGreaterThan(0);
    const s = index.searcher();
    expect(s.segments.length).toBe(1);
    const byPath = new Map([...s.liveDocNumbers()].map((d) => [s.chunk(d).path, s.chunk(d)]));
    expect(byPath.get("notes/zeitlimit.md")).toMatchObject({ glossedFrom: "de", readable: 128 / 255 });
    expect(byPath.get("docs/retry.md")).not.toHaveProperty("glossedFrom");
  });
});

describe("a format 2 index under format 3", () => {
  it("takes new commits in format 3, and a merge rewrites its format 2 segments into one format 3 segment", async () => {
    const index = await openFixture(2);
    await index.add({
      path: "src/net/timeout.ts", startLine: 1, endLine: 3, symbol: "withTimeout", hash: "h:timeout", root: "/ws", language: "typescript",
      lexical: ["with", "timeout", "backoff"], latent: { ids: Uint32Array.from([3]), weights: Float32Array.from([1]) },
    });
    await index.commit({ note: "fourth" });
    const before = paths(index, index.searcher().search(lexicalQuery(["backoff"]), 10));
    expect(before).toEqual(expect.arrayContaining(["docs/retry.md", "src/net/retry.ts", "src/net/timeout.ts"]));
    expect(await index.merge({ factor: 2, minDocs: 100, maxDocs: 1000, maxDeletedRatio: 0 })).toBeGreaterThan(0);
    const s = index.searcher();
    expect(s.segments.length).toBe(1);
    expect(s.liveDocs).toBe(6);
    expect(paths(index, s.search(lexicalQuery(["backoff"]), 10))).toEqual(before);
    expect(paths(index, s.search(latentQuery({ ids: Uint32Array.from([3, 9]), weights: Float32Array.from([1, 1]) }), 10))).toEqual(["docs/retry.md", "src/net/retry.ts", "src/net/timeout.ts"]);
  });
});
