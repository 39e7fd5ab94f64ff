// Tier: unit. BM25 ranking on small hand-made sets; each expectation says why.
import { describe, expect, it } from "vitest";
import { Bm25Index } from "../../daemon/src/search/bm25.js";

function ranking(docs: string[], query: string): number[] {
  const index = new Bm25Index();
  for (const d of docs) index.add(d);
  return index.search(query, 10).map((h) => h.doc);
}

describe("Bm25Index", () => {
  it("finds an identifier by one of its words", () => {
    // parseConfigFile contains the word "config"; the other document does not.
    expect(ranking(["function parseConfigFile() {}", "function renderPage() {}"], "config")).toEqual([0]);
  });
  it("matches the exact identifier above documents that only share its words", () => {
    // Doc 1 has the whole identifier (a rare term) as well as its parts.
    expect(ranking(["user id lookup fetch", "fetchUserId(x)"], "fetchUserId")[0]).toBe(1);
  });
  it("prefers the rarer term", () => {
    // "the" is everywhere, "lighthouse" only in doc 2.
    expect(ranking(["the cat the dog", "the bird", "the lighthouse"], "the lighthouse")[0]).toBe(2);
  });
  it("prefers the shorter document at equal term frequency", () => {
    expect(ranking(["tide " + "filler words here ".repeat(20), "tide table"], "tide")).toEqual([1, 0]);
  });
  it("returns no document that shares no term with the query", () => {
    expect(ranking(["alpha", "beta"], "gamma")).toEqual([]);
    expect(new Bm25Index().search("anything", 5)).toEqual([]);
  });
  it("counts a repeated query word once", () => {
    const index = new Bm25Index();
    index.add("apple banana");
    expect(index.scores("apple apple")[0]).toBeCloseTo(index.scores("apple")[0]!);
  });
});
