// Tier: unit (pure). The protocol's request schemas as the daemon applies them at its edge
// (`parseParams`): every bound in LIMITS is enforced with a message that names the field and the
// bound and never echoes a long input; typed values pass through unchanged; unknown fields and
// missing ones are named.
import { describe, expect, it } from "vitest";
import {
  AddRootParams, ExplainParams, LIMITS, ParamSchemas, parseParams, ReadParams, Requests, SearchParams, SearchResult, SimilarParams, StatusResult,
} from "@loupe/protocol";

const huge = "kiwi ".repeat(200_000); // 1 MB

function refusal(method: string, schema: Parameters<typeof parseParams>[1], params: unknown): { code: string; message: string } {
  try {
    parseParams(method, schema, params);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error(`${method} accepted ${JSON.stringify(params).slice(0, 100)}`);
}

describe("request schemas", () => {
  it.each([
    ["search", SearchParams, { query: huge }, /^query is 1,000,000 characters; the limit is 4,096\. Shorten it/],
    ["search", SearchParams, { query: "   " }, /^query must be a non-empty string$/],
    ["search", SearchParams, { query: "kiwi", k: 0 }, /^k must be an integer from 1 to 100, got 0$/],
    ["search", SearchParams, { query: "kiwi", k: 2.5 }, /^k must be an integer from 1 to 100, got 2\.5$/],
    ["search", SearchParams, { query: "kiwi", k: "5" }, /^k must be an integer from 1 to 100, got "5"$/],
    ["search", SearchParams, { query: "kiwi", offset: LIMITS.depth }, /^offset must be an integer from 0 to 999, got 1000$/],
    ["search", SearchParams, { query: "kiwi", mode: "fuzzy" }, /^mode must be one of hybrid, lexical, latent, got "fuzzy"$/],
    ["search", SearchParams, { query: "kiwi", kinds: ["prose"] }, /^kinds must list "code" and\/or "notes", got "prose"$/],
    ["search", SearchParams, { query: "kiwi", paths: Array.from({ length: 10_000 }, (_, i) => `d${i}/**`) }, /^paths has 10,000 entries; the limit is 64/],
    ["search", SearchParams, { query: "kiwi", exclude: [huge] }, /^an entry of exclude is 1,000,000 characters; the limit is 4,096$/],
    ["search", SearchParams, { query: "kiwi", roots: "/src" }, /^roots must be a list of strings, got "\/src"$/],
    ["search", SearchParams, { query: "kiwi", kind: ["code"] }, /^search has no parameter "kind"$/],
    ["search", SearchParams, {}, /^search needs query$/],
    ["search", SearchParams, null, /^search needs its parameters as an object, got null$/],
    ["read", ReadParams, { path: huge }, /^path is 1,000,000 characters; the limit is 4,096/],
    ["read", ReadParams, { path: "a.md", startLine: 0 }, /^startLine must be an integer from 1 to/],
    ["similar", SimilarParams, { path: "" }, /^path must be a non-empty string$/],
    ["explain", ExplainParams, { query: "kiwi", path: "a.md" }, /^explain needs line$/],
    ["addRoot", AddRootParams, { root: huge }, /^root is 1,000,000 characters; the limit is 4,096$/],
    ["addRoot", AddRootParams, { root: "/w", wait: "yes" }, /^wait must be true or false, got "yes"$/],
  ] as const)("%s refuses case %#", (method, schema, params, message) => {
    const e = refusal(method, schema, params);
    expect(e.code).toBe("BAD_ARGUMENT");
    expect(e.message).toMatch(message);
    expect(e.message.length).toBeLessThan(300);
  });

  it("passes typed values through unchanged", () => {
    const p = { query: "retry backoff", k: 5, offset: 10, mode: "lexical", paths: ["src/**"], kinds: ["code"], languages: ["ts"], roots: ["/w"] } as const;
    expect(parseParams("search", SearchParams, p)).toEqual(p);
    expect(parseParams("addRoot", AddRootParams, { root: "/w", wait: true, workDoneToken: "t1" })).toEqual({ root: "/w", wait: true, workDoneToken: "t1" });
  });

  it("has a schema for every request that takes parameters", () => {
    expect(Object.keys(ParamSchemas).sort()).toEqual(Object.keys(Requests).sort());
    expect(Object.entries(ParamSchemas).filter(([, s]) => s === null).map(([m]) => m).sort()).toEqual(["status", "stop"]);
  });

  it("result schemas accept what the daemon answers and refuse a hit without its lines", () => {
    const hit = {
      root: "/w", path: "a.ts", file: "/w/a.ts", startLine: 1, endLine: 3, score: 1, snippet: "x", snippetStartLine: 1, snippetEndLine: 1,
      symbol: "", language: "ts", kind: "code", concepts: [{ id: 3, label: "retry", weight: 0.5 }],
    };
    expect(SearchResult.safeParse({ query: "q", mode: "hybrid", hits: [hit], nextOffset: null, indexing: null }).success).toBe(true);
    const { startLine: _, ...noLines } = hit;
    expect(SearchResult.safeParse({ query: "q", mode: "hybrid", hits: [noLines], nextOffset: null, indexing: null }).success).toBe(false);
    expect(StatusResult.safeParse({ pid: 1, version: "0", protocol: 1, socket: null, startedAt: "", clients: 0, pack: null, cluster: null, bridged: ["de"], roots: [], lastError: null }).success).toBe(true);
    expect(StatusResult.safeParse({ pid: 1, version: "0", protocol: 1, socket: null, startedAt: "", clients: 0, pack: null, cluster: { url: "https://search.example.com", index: "team", push: null }, bridged: [], roots: [], lastError: null }).success).toBe(true);
  });
});
