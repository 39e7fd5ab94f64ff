// Tier: unit (in-memory directory). The pruned search is exact: over random indexes built by
// random sequences of adds, path deletes, commits and merges, MaxScore's top k equals a
// brute-force scorer's and the exhaustive strategy's; filters agree with the same predicates
// applied by brute force; stored impacts stay within quantisation noise of the float weights.
import fc from "fast-check";
import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import type { Filter } from "../../daemon/src/index/searcher.js";
import { latentQuery } from "../../daemon/src/index/terms.js";
import { SparseIndex } from "../../daemon/src/search/sparse.js";
import { bruteForce, randomChunk, randomQuery, rng, sameTopK } from "../support/index-oracle.js";

const OPTS = { pack: "sha256:test", analyzer: 1, maxBufferedDocs: 30, mergePolicy: { factor: 3, minDocs: 10, maxDocs: 10_000, maxDeletedRatio: 0.4 } };

type Op = { add: number } | { del: number } | { commit: true } | { merge: true };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 40 }).map((add) => ({ add })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 16 }).map((del) => ({ del })) },
  { weight: 3, arbitrary: fc.constant({ commit: true as const }) },
  { weight: 1, arbitrary: fc.constant({ merge: true as const }) },
);

async function build(seed: number, ops: readonly Op[]): Promise<Index> {
  const random = rng(seed);
  const index = await Index.open(new MemoryDirectory(), OPTS);
  let n = 0;
  for (const op of ops) {
    if ("add" in op) for (let i = 0; i < op.add; i++) await index.add(randomChunk(random, n++));
    else if ("del" in op) index.deletePath(`${["src", "src/net", "docs", "test"][op.del % 4]}/f${op.del}.${op.del % 4 === 2 ? "md" : "ts"}`);
    else if ("commit" in op) await index.commit();
    else await index.merge();
  }
  await index.commit();
  return index;
}

describe("index search is exact", () => {
  it("MaxScore equals brute force and exhaustive scoring, with deletes and merges", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 30 }), async (seed, ops, k) => {
        const index = await build(seed, ops);
        const s = index.searcher();
        const random = rng(seed ^ 0x5eed);
        for (let q = 0; q < 8; q++) {
          const query = randomQuery(random, { latents: 1 + (q % 6), words: q % 3 });
          const expected = bruteForce(s, query, k);
          const pruned = s.search(query, k);
          const full = s.search(query, k, { strategy: "exhaustive" });
          expect(sameTopK(pruned, expected)).toBeNull();
          // Small windows: many window boundaries, window skips and block seeks.
          expect(sameTopK(s.search(query, k, { window: 16 + (q % 3) * 48 }), expected)).toBeNull();
          expect(sameTopK(full, expected)).toBeNull();
        }
      }),
      { numRuns: 60 },
    );
  });

  it("filters agree with brute force under the same predicate", async () => {
    const index = await build(7, [{ add: 40 }, { commit: true }, { add: 40 }, { del: 3 }, { commit: true }, { add: 25 }]);
    const s = index.searcher();
    const random = rng(99);
    const filters: Array<[Filter, (path: string, root: string, lang: string) => boolean]> = [
      [{ pathPrefix: "src/" }, (p) => p.startsWith("src/")],
      [{ pathGlob: "src/**/*.ts" }, (p) => picomatch("src/**/*.ts")(p)],
      [{ languages: ["markdown"] }, (_p, _r, l) => l === "markdown"],
      [{ roots: ["/b"], pathPrefix: "src/net" }, (p, r) => r === "/b" && p.startsWith("src/net")],
    ];
    for (const [filter, predicate] of filters) {
      for (let q = 0; q < 10; q++) {
        const query = randomQuery(random);
        const expected = bruteForce(s, query, 10, (doc) => {
          const c = s.chunk(doc);
          return predicate(c.path, c.root, c.language);
        });
        expect(expected.length).toBeGreaterThan(0);
        expect(sameTopK(s.search(query, 10, { filter }), expected)).toBeNull();
        expect(sameTopK(s.search(query, 10, { filter, window: 32 }), expected)).toBeNull();
      }
    }
  });

  it("a deleted path is gone after commit and stays gone across merges", async () => {
    const index = await build(3, [{ add: 60 }, { commit: true }, { add: 60 }, { commit: true }]);
    index.deletePath("src/f1.ts");
    await index.commit();
    await index.merge({ factor: 2, minDocs: 1, maxDocs: 10_000, maxDeletedRatio: 0.1 });
    const s = index.searcher();
    expect([...s.liveDocNumbers()].some((d) => s.chunk(d).path === "src/f1.ts")).toBe(false);
    expect(s.segments.length).toBe(1);
    expect(s.liveDocs).toBe(s.totalDocs);
  });

  it("quantised latent scores stay within half a step per term of the float dot product", async () => {
    const random = rng(5);
    const index = await Index.open(new MemoryDirectory(), { ...OPTS, maxBufferedDocs: 1000 });
    const memory = new SparseIndex();
    for (let i = 0; i < 300; i++) {
      const c = randomChunk(random, i, { latents: 30, space: 200 });
      await index.add(c);
      memory.add(c.latent!);
    }
    await index.commit();
    const s = index.searcher();
    for (let q = 0; q < 20; q++) {
      const v = randomChunk(random, 0, { latents: 10, space: 200 }).latent!;
      const exact = memory.scores(v);
      const hits = s.search(latentQuery(v), 300);
      // Each term's value is off by at most half of scale/255; the scale is at most 3.
      const tolerance = v.weights.reduce((a, w) => a + (w * 3) / 510, 0);
      for (const h of hits) expect(Math.abs(h.score - exact[h.doc]!)).toBeLessThanOrEqual(tolerance + 1e-9);
    }
  });
});
