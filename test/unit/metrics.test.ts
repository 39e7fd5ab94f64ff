// Tier: unit. Retrieval metrics against hand-computed values.
import { describe, expect, it } from "vitest";
import { mrrAt, ndcgAt, recallAt } from "../../daemon/src/eval/metrics.js";

const rel = new Map([["a", 2], ["b", 1]]);

describe("metrics", () => {
  it("nDCG@k uses graded gains and a log2 discount", () => {
    expect(ndcgAt(["a", "b"], rel, 10)).toBeCloseTo(1);
    // b at rank 1, a at rank 3: (1 + 2/log2(4)) / (2 + 1/log2(3))
    expect(ndcgAt(["b", "x", "a"], rel, 10)).toBeCloseTo((1 + 2 / 2) / (2 + 1 / Math.log2(3)));
    expect(ndcgAt(["x", "y"], rel, 10)).toBe(0);
    expect(ndcgAt(["a"], new Map(), 10)).toBe(0);
  });
  it("MRR@k is the reciprocal rank of the first relevant hit within k", () => {
    expect(mrrAt(["x", "b", "a"], rel, 10)).toBe(0.5);
    expect(mrrAt(["x", "y", "a"], rel, 2)).toBe(0);
  });
  it("Recall@k counts relevant documents found within k", () => {
    expect(recallAt(["a", "x"], rel, 100)).toBe(0.5);
    expect(recallAt(["x", "a", "b"], rel, 2)).toBe(0.5);
    expect(recallAt(["a"], new Map(), 100)).toBe(0);
  });
});
