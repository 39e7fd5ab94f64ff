// Tier: unit (reads committed files into the in-memory directory, so the fixture is never
// touched). fixtures/index/v1 is an index written by format version 1
// (fixtures/index/make-v1.mjs). Every later Loupe must open and search it, or refuse it with
// INDEX_VERSION once format 1 is retired; this test is never edited to fit new output.
import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { latentQuery, lexicalQuery } from "../../daemon/src/index/terms.js";

const V1 = new URL("../../fixtures/index/v1", import.meta.url).pathname;

async function openV1(): Promise<Index> {
  const dir = new MemoryDirectory();
  for (const name of await readdir(V1)) dir.files.set(name, await readFile(`${V1}/${name}`));
  return Index.open(dir, { pack: "sha256:fixture-v1", analyzer: 1 });
}

const paths = (index: Index, hits: Array<{ doc: number }>) => hits.map((h) => index.searcher().chunk(h.doc).path);

describe("format v1 fixture", () => {
  it("opens with its three commits, two segments and one delete", async () => {
    const index = await openV1();
    const s = index.searcher();
    expect(index.generation).toBe(3);
    expect(index.commitData).toEqual({ note: "third" });
    expect(s.segments.length).toBe(2);
    expect(s.totalDocs).toBe(5);
    expect(s.liveDocs).toBe(4);
    const all = [...s.liveDocNumbers()].map((d) => s.chunk(d));
    expect(all.map((c) => c.path)).toEqual(["src/net/retry.ts", "src/net/fetch.ts", "docs/retry.md", "src/db/pool.ts"]);
    expect(all[2]).toEqual({
      path: "docs/retry.md", startLine: 1, endLine: 2, symbol: "Retries", hash: "h:docs/retry.md:1",
      text: "# Retries\nFailed requests are retried with exponential backoff.", root: "/ws", language: "markdown",
    });
  });

  it("searches latents, lexical terms and filters as it did when written", async () => {
    const index = await openV1();
    const s = index.searcher();
    const q = latentQuery({ ids: Uint32Array.from([3, 9]), weights: Float32Array.from([1, 1]) });
    const hits = s.search(q, 10);
    expect(paths(index, hits)).toEqual(["docs/retry.md", "src/net/retry.ts"]);
    expect(hits.map((h) => h.score)).toEqual([3.75, 2.5]);
    expect(paths(index, s.search(lexicalQuery(["backoff", "exponential"]), 10))).toEqual(["docs/retry.md", "src/net/retry.ts"]);
    expect(paths(index, s.search(q, 10, { filter: { languages: ["typescript"] } }))).toEqual(["src/net/retry.ts"]);
    expect(paths(index, s.search(latentQuery({ ids: Uint32Array.from([9]), weights: Float32Array.from([1]) }), 10))).toEqual(["docs/retry.md"]);
    expect(paths(index, s.search(lexicalQuery(["pool"]), 10, { filter: { pathGlob: "src/**" } }))).toEqual(["src/db/pool.ts"]);
  });
});
