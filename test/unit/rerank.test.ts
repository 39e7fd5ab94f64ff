// Tier: unit. The agent-facing re-ranking (file roles, named symbols, diversity across files) and readable concept labels.
import { describe, expect, it } from "vitest";
import { readableLabel } from "../../daemon/src/model/labels.js";
import { fileRole, queryIdentifiers, rerank, RERANK_DEPTH, symbolNamed } from "../../daemon/src/search/rerank.js";

describe("fileRole", () => {
  it("tells changelogs, lock files and generated files from sources and notes", () => {
    for (const p of ["History.md", "HISTORY.md", "CHANGELOG.md", "docs/changelog.rst", "CHANGES", "Release notes/v1.2.md", "packages/a/RELEASE-NOTES.txt", "NEWS.md"]) expect(fileRole(p)).toBe("changelog");
    for (const p of ["package-lock.json", "uv.lock", "sub/Cargo.lock", "go.sum", "pnpm-lock.yaml"]) expect(fileRole(p)).toBe("lock");
    for (const p of ["dist/app.js", "lib/x.min.js", "api/v1/api.pb.go", "x_pb2.py", "logo.svg", "vendor/github.com/a/b.go", "__snapshots__/a.snap"]) expect(fileRole(p)).toBe("generated");
    for (const p of ["lib/response.js", "src/history.ts", "docs/Releases and versions.md", "en/Obsidian Sync/Version history.md", "news/index.md", "src/testing.ts"]) expect(fileRole(p)).toBe("source");
  });
  it("tells tests by folder or name, and documentation only in a code repository", () => {
    for (const p of ["test/app.test.js", "tests/test_basic.py", "context_test.go", "src/__tests__/a.ts", "packages/x/spec/y.rb", "lib/a.spec.ts", "testdata/x.json"]) expect(fileRole(p)).toBe("test");
    expect(fileRole("docs/config.rst", true)).toBe("docs");
    expect(fileRole("README.md", true)).toBe("docs");
    expect(fileRole("README.md", false)).toBe("source");
    expect(fileRole("config.yaml", true)).toBe("source");
  });
});

describe("queryIdentifiers / symbolNamed", () => {
  it("takes words written as code, with the last part of dotted names", () => {
    expect([...queryIdentifiers("how does res.format pick a handler")]).toEqual(["res.format", "format"]);
    expect([...queryIdentifiers("what does from_prefixed_env do with FLASK_ variables")]).toEqual(["from_prefixed_env", "flask_"]);
    expect([...queryIdentifiers("where is ShouldBindBodyWith cached, and parse() called")]).toEqual(["shouldbindbodywith", "parse"]);
    expect([...queryIdentifiers("where are retries done in the client")]).toEqual([]);
  });
  it("matches a chunk symbol, a merged symbol list, a method path or an impl", () => {
    const ids = queryIdentifiers("how does res.format work; and Router.route()");
    expect(symbolNamed("res.format", ids)).toBe(true);
    expect(symbolNamed("a, format, b", ids)).toBe(true);
    expect(symbolNamed("Router.route", ids)).toBe(true);
    expect(symbolNamed("Db(Clone)", queryIdentifiers("the Db::Clone impl"))).toBe(false);
    expect(symbolNamed("Db(Clone)", queryIdentifiers("what does Db.purge_expired_keys do"))).toBe(false);
    expect(symbolNamed("Db.purge_expired_keys", queryIdentifiers("what does purge_expired_keys do"))).toBe(true);
    expect(symbolNamed("", ids)).toBe(false);
    expect(symbolNamed("response", ids)).toBe(false);
  });
});

describe("rerank", () => {
  const docs: Record<number, { path: string; symbol: string }> = {
    1: { path: "History.md", symbol: "" },
    2: { path: "lib/a.js", symbol: "a" },
    3: { path: "lib/a.js", symbol: "b" },
    4: { path: "lib/a.js", symbol: "c" },
    5: { path: "lib/b.js", symbol: "res.format" },
    6: { path: "lib/c.js", symbol: "" },
  };
  const opts = (query: string) => ({ query, pathOf: (d: number) => docs[d]!.path, symbolOf: (d: number) => docs[d]!.symbol });
  const hits = [{ doc: 1, score: 1 }, { doc: 2, score: 0.9 }, { doc: 3, score: 0.85 }, { doc: 4, score: 0.8 }, { doc: 5, score: 0.5 }, { doc: 6, score: 0.7 }];

  it("demotes the changelog, spreads the page over files, and lifts a named symbol", () => {
    const spread = { diversity: 0.85, sameFileFree: 1 };
    expect(rerank(hits, { ...opts("how are requests handled"), ...spread }).map((h) => h.doc)).toEqual([2, 3, 6, 4, 1, 5]);
    // By default a file's first three hits count in full.
    expect(rerank(hits, opts("how are requests handled")).map((h) => h.doc)).toEqual([2, 3, 4, 6, 1, 5]);
    // res.format's chunk: 0.5 × 1.5 = 0.75 passes a.js's second hit (0.85 × 0.85) and c.js (0.7).
    expect(rerank(hits, { ...opts("how does res.format work"), ...spread }).map((h) => h.doc)).toEqual([2, 5, 3, 6, 4, 1]);
    expect(rerank(hits, { ...opts("how does res.format work"), symbolBoost: 1 }).map((h) => h.doc).slice(0, 2)).toEqual([5, 2]);
  });

  it("ranks documentation below code in a code repository, not in a notes vault", () => {
    const two = [{ doc: 1, score: 1 }, { doc: 2, score: 0.7 }];
    const paths: Record<number, string> = { 1: "README.md", 2: "src/a.ts" };
    const base = { query: "q", pathOf: (d: number) => paths[d]!, symbolOf: () => "" };
    expect(rerank(two, { ...base, codeRoot: () => true }).map((h) => h.doc)).toEqual([2, 1]);
    expect(rerank(two, { ...base, codeRoot: () => false }).map((h) => h.doc)).toEqual([1, 2]);
  });

  it("with every adjustment off, keeps the fused order", () => {
    const off = { rolePrior: { source: 1, changelog: 1, lock: 1, generated: 1, test: 1, docs: 1 }, symbolBoost: 0, diversity: 1 };
    expect(rerank(hits, { ...opts("res.format"), ...off }).map((h) => h.doc)).toEqual([1, 2, 3, 4, 6, 5]);
  });

  it("leaves hits past RERANK_DEPTH in place after the re-ranked ones", () => {
    const many = Array.from({ length: RERANK_DEPTH + 5 }, (_, i) => ({ doc: i, score: 1 - i / 1000 }));
    const out = rerank(many, { query: "q", pathOf: () => "same.ts", symbolOf: () => "" });
    expect(out).toHaveLength(many.length);
    expect(out.slice(RERANK_DEPTH)).toEqual(many.slice(RERANK_DEPTH));
    expect(new Set(out.map((h) => h.doc)).size).toBe(many.length);
  });
});

describe("readableLabel", () => {
  const vocab = new Set(["sign", "signature", "memory", "workers", "work", "job", "the", "check"]);
  const isWord = (w: string) => vocab.has(w.toLowerCase());
  it("keeps whole words of three letters or more, once each, and drops pieces and punctuation", () => {
    expect(readableLabel("sign / signature / Sign", isWord)).toBe("sign / signature");
    expect(readableLabel("workers / work / job", isWord)).toBe("workers / work / job");
    expect(readableLabel(". / ( / a", isWord)).toBe("");
    expect(readableLabel("ries / ou / ue", isWord)).toBe("");
    expect(readableLabel("check / Check / 10", isWord)).toBe("check");
    expect(readableLabel("", isWord)).toBe("");
    expect(readableLabel("the / memory / The", isWord)).toBe("memory");
  });
});
