// Tier: unit. Latent dot-product search against a brute-force oracle, and the two fusions.
import { describe, expect, it } from "vitest";
import type { SparseVector } from "../../daemon/src/model/encoder.js";
import { fileKind, fileType, languageOf } from "../../daemon/src/file-types.js";
import { chunkTrust, DEFAULT_FUSION, fuse } from "../../daemon/src/search/fusion.js";
import { SparseIndex } from "../../daemon/src/search/sparse.js";

const vec = (pairs: Array<[number, number]>): SparseVector => ({
  ids: Uint32Array.from(pairs.map((p) => p[0])),
  weights: Float32Array.from(pairs.map((p) => p[1])),
});

describe("SparseIndex", () => {
  it("scores exactly the dot product, on random vectors", () => {
    let seed = 11;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const randomVec = (n: number) => {
      const m = new Map<number, number>();
      while (m.size < n) m.set(Math.floor(random() * 50), Math.fround(random()));
      return vec([...m]);
    };
    const docs = Array.from({ length: 200 }, () => randomVec(1 + Math.floor(random() * 20)));
    const index = new SparseIndex();
    docs.forEach((d) => index.add(d));
    for (let q = 0; q < 20; q++) {
      const query = randomVec(5);
      const scores = index.scores(query);
      docs.forEach((d, i) => {
        let dot = 0;
        d.ids.forEach((id, j) => query.ids.forEach((qid, r) => (dot += qid === id ? d.weights[j]! * query.weights[r]! : 0)));
        expect(scores[i]).toBeCloseTo(dot, 6);
      });
    }
  });
  it("idf damps a latent that every document has", () => {
    const index = new SparseIndex();
    index.add(vec([[1, 1], [2, 0.5]])); // latent 1 everywhere, latent 2 rare
    index.add(vec([[1, 1]]));
    index.add(vec([[1, 1]]));
    const q = vec([[1, 1], [2, 1]]);
    const plain = index.scores(q);
    const idf = index.scores(q, true);
    expect(plain[0]! / plain[1]!).toBeCloseTo(1.5);
    expect(idf[0]! / idf[1]!).toBeGreaterThan(1.5);
  });
});

describe("fuse", () => {
  const lexical = [{ doc: 1, score: 10 }, { doc: 2, score: 5 }];
  const latent = [{ doc: 2, score: 0.8 }, { doc: 3, score: 0.4 }];
  it("adds max-normalised scores with weights alpha and 1 − alpha", () => {
    const fused = fuse(lexical, latent, 10, { ...DEFAULT_FUSION, kind: "wsum", alpha: 0.5 });
    // doc 2: 0.5·5/10 + 0.5·0.8/0.8 = 0.75; doc 1: 0.5; doc 3: 0.25
    expect(fused).toEqual([{ doc: 2, score: 0.75 }, { doc: 1, score: 0.5 }, { doc: 3, score: 0.25 }]);
    expect(fuse(lexical, latent, 10, { ...DEFAULT_FUSION, kind: "wsum", alpha: 1 }).map((h) => h.doc).slice(0, 2)).toEqual([1, 2]);
  });
  it("blends each latent score toward the lexical one as far as the query's latent trust falls short of 1", () => {
    const o = { ...DEFAULT_FUSION, kind: "wsum" as const, alpha: 0.5 };
    // Trust 0: the latent part of every document is its lexical score; the ranking is the lexical one.
    expect(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0 })).toEqual([{ doc: 1, score: 1 }, { doc: 2, score: 0.5 }, { doc: 3, score: 0 }]);
    // Trust 0.5: doc 2: 0.5·0.5 + 0.5·(0.5·1 + 0.5·0.5) = 0.625; doc 1: 0.5·1 + 0.5·(0 + 0.5·1) = 0.75; doc 3: 0.5·(0.5·0.5) = 0.125.
    expect(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0.5 })).toEqual([{ doc: 1, score: 0.75 }, { doc: 2, score: 0.625 }, { doc: 3, score: 0.125 }]);
    expect(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 1 })).toEqual(fuse(lexical, latent, 10, o));
  });
  it("multiplies the query's trust by each document's", () => {
    const o = { ...DEFAULT_FUSION, kind: "wsum" as const, alpha: 0.5 };
    // Doc 3 untrusted: its latent part becomes its lexical 0 (was 0.5·0.5 = 0.25); the others as with full trust.
    const full = fuse(lexical, latent, 10, o);
    const fused = fuse(lexical, latent, 10, o, undefined, undefined, { documentTrust: (doc) => (doc === 3 ? 0 : 1) });
    expect(fused.filter((h) => h.doc !== 3)).toEqual(full.filter((h) => h.doc !== 3));
    expect(fused.find((h) => h.doc === 3)!.score).toBe(0);
    expect(full.find((h) => h.doc === 3)!.score).toBeGreaterThan(0);
    // Query trust 0.5 × document trust 1 is query trust 0.5 alone; × document trust 0.5 is trust 0.25.
    expect(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0.5, documentTrust: () => 1 })).toEqual(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0.5 }));
    expect(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0.5, documentTrust: () => 0.5 })).toEqual(fuse(lexical, latent, 10, o, undefined, undefined, { latentTrust: 0.25 }));
  });
  it("trusts a chunk by how the latent channel read it and the question (chunkTrust)", () => {
    // A note glossed from the question's own gloss language: both sides are glosses of one language.
    expect(chunkTrust({ glossedFrom: "es" }, "es")).toBe(0);
    // A glossed note for an English question, or one translated from another language: trusted.
    expect(chunkTrust({ glossedFrom: "es" }, undefined)).toBe(1);
    expect(chunkTrust({ glossedFrom: "es", readable: 0.4 }, "de")).toBe(1);
    // Read as written: for a translated question, by the share of its letters the encoder reads;
    // for a question read as asked, trusted (its names and numbers still find the chunk).
    expect(chunkTrust({ readable: 0.03 }, "zh")).toBe(0.03);
    expect(chunkTrust({}, "es")).toBe(1);
    expect(chunkTrust({ readable: 0.03 }, undefined)).toBe(1);
  });
  it("adds reciprocal ranks in rrf", () => {
    const fused = fuse(lexical, latent, 2, { ...DEFAULT_FUSION, kind: "rrf", rrfK: 60 });
    expect(fused[0]).toEqual({ doc: 2, score: 1 / 62 + 1 / 61 });
    expect(fused).toHaveLength(2);
  });
  it("weighs code documents with alphaCode and the rest with alpha", () => {
    const o = { ...DEFAULT_FUSION, kind: "wsum" as const, alpha: 0.5, alphaCode: 1 };
    // doc 2 is code: 1·5/10 + 0·1 = 0.5; doc 3 is notes: 0.5·0 + 0.5·0.4/0.8 = 0.25; doc 1 code: 1.
    const fused = fuse(lexical, latent, 10, o, (doc) => (doc === 3 ? "notes" : "code"));
    expect(fused).toEqual([{ doc: 1, score: 1 }, { doc: 2, score: 0.5 }, { doc: 3, score: 0.25 }]);
  });
  it("tells code from notes by extension, from one table (file-types.ts)", () => {
    expect(fileKind("x.py")).toBe("code");
    expect(fileKind("src/a/Main.JAVA")).toBe("code");
    expect(fileKind("notes/today.md")).toBe("notes");
    expect(fileKind("")).toBe("notes");
    expect(fileKind(".eslintrc")).toBe("notes");
    expect(fileType("lib/a.kt")).toEqual({ kind: "code", chunker: "lines" });
    expect(fileType("lib/a.ts")).toEqual({ kind: "code", chunker: "code", grammar: "typescript" });
    expect(fileType("docs/a.rst")).toMatchObject({ kind: "notes", chunker: "text", documentation: true });
    expect(fileType("config.yaml")).toEqual({ kind: "notes", chunker: "lines" });
    expect(languageOf("Notes/Plan.MD")).toBe("md");
    expect(languageOf(".gitignore")).toBe("");
  });
});
