// Tier: unit, property. Heap top-k against a full sort on random scores with many ties.
import { describe, expect, it } from "vitest";
import { topK } from "../../daemon/src/search/topk.js";

function oracle(scores: Float64Array, k: number, skip: number | null) {
  return [...scores]
    .map((score, doc) => ({ doc, score }))
    .filter((h) => h.score !== skip)
    .sort((a, b) => b.score - a.score || a.doc - b.doc)
    .slice(0, k);
}

describe("topK", () => {
  it("agrees with sorting on 500 random cases", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let c = 0; c < 500; c++) {
      const n = Math.floor(random() * 200);
      const scores = Float64Array.from({ length: n }, () => Math.floor(random() * 10) / 2);
      const k = 1 + Math.floor(random() * 30);
      const skip = c % 2 === 0 ? 0 : null;
      expect(topK(scores, k, skip)).toEqual(oracle(scores, k, skip));
    }
  });
  it("returns nothing for k = 0 or no documents", () => {
    expect(topK(new Float64Array([1, 2]), 0)).toEqual([]);
    expect(topK(new Float64Array(0), 5)).toEqual([]);
  });
});
