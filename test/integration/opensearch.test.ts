// Tier: integration (real HTTP to a recording stand-in; no OpenSearch can be installed here).
// Contract tests for the OpenSearch backend: what Loupe sends is compared with the request shapes
// OpenSearch documents (rank_features mapping, _bulk NDJSON, neural_sparse with raw
// query_tokens, _msearch), and the stand-in answers with the documented response shapes
// (test/support/fake-opensearch.ts). The encoder is the deterministic fake (test/support/
// fake-encoder.ts); the lexical analysis is the real bridge. The scoring itself is checked
// against Lucene in opensearch-lucene.test.ts.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openBridge, type LexicalAnalyzer } from "../../daemon/src/analysis/bridge.js";
import { pushRoot, searchCluster } from "../../daemon/src/core/cluster.js";
import { OpenSearchClient } from "../../daemon/src/opensearch/client.js";
import { bulkBody, documentId, indexBody, latentQuery, lexicalQuery, msearchBody, type ChunkDocument } from "../../daemon/src/opensearch/format.js";
import { fakeEncoder } from "../support/fake-encoder.js";
import { FakeOpenSearch } from "../support/fake-opensearch.js";

const WORKSPACE = new URL("../../fixtures/workspace", import.meta.url).pathname;

const doc = (over: Partial<ChunkDocument> = {}): ChunkDocument => ({
  root: "shop", path: "src/cart.ts", ordinal: 0, startLine: 1, endLine: 9, symbol: "Cart", language: "ts", kind: "code", hash: "h1", fileHash: "f1",
  text: "export class Cart {}", terms: ["export", "class", "cart"], latent: { ids: [12, 7], weights: [1.5, 0.25] }, ...over,
});

describe("the request shapes (golden, from OpenSearch's documentation)", () => {
  it("maps latents as rank_features and terms as whitespace-analysed BM25 text, with the pack in _meta", () => {
    const body = indexBody({ pack: "sha256:" + "a".repeat(64), packName: "use-lite-en", analyzer: 2 }) as { settings: { index: Record<string, unknown> }; mappings: { _meta: unknown; properties: Record<string, unknown> } };
    // "passage_embedding": { "type": "rank_features" } in "Neural sparse search using raw vectors".
    expect(body.mappings.properties.latents).toEqual({ type: "rank_features" });
    expect(body.mappings.properties.terms).toEqual({ type: "text", analyzer: "loupe_terms", similarity: "loupe_bm25" });
    expect(body.settings.index.similarity).toEqual({ loupe_bm25: { type: "BM25", k1: 0.9, b: 0.6 } });
    expect(body.mappings._meta).toEqual({ loupe: { format: 2, pack: "sha256:" + "a".repeat(64), packName: "use-lite-en", analyzer: 2 } });
    // Format 2: how the latent channel read each chunk (fusion's trust per chunk).
    expect(body.mappings.properties.glossed_from).toEqual({ type: "keyword" });
    expect(body.mappings.properties.readable).toEqual({ type: "float", index: false });
    const ann = indexBody({ pack: "p", packName: "n", analyzer: 2, seismic: true }) as typeof body;
    expect(ann.settings.index.sparse).toBe(true);
    expect(ann.mappings.properties.latents_ann).toEqual({ type: "sparse_vector", method: { name: "seismic" } });
  });

  it("writes _bulk as newline-terminated action and source lines", () => {
    const body = bulkBody("loupe", [{ index: doc() }, { delete: { root: "shop", path: "old.ts", ordinal: 3 } }]);
    const lines = body.split("\n");
    expect(lines).toHaveLength(4); // action, source, action, "" (the final newline)
    expect(lines[3]).toBe("");
    expect(JSON.parse(lines[0]!)).toEqual({ index: { _index: "loupe", _id: documentId("shop", "src/cart.ts", 0) } });
    expect(JSON.parse(lines[1]!)).toMatchObject({ path: "src/cart.ts", terms: "export class cart", latents: { "12": 1.5, "7": 0.25 } });
    expect(JSON.parse(lines[2]!)).toEqual({ delete: { _index: "loupe", _id: documentId("shop", "old.ts", 3) } });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty("glossed_from");
    expect(JSON.parse(lines[1]!)).not.toHaveProperty("readable");
    const note = JSON.parse(bulkBody("loupe", [{ index: doc({ path: "Rezepte/brot.md", kind: "notes", glossedFrom: "de", readable: 0.5 }) }]).split("\n")[1]!);
    expect(note).toMatchObject({ glossed_from: "de", readable: 0.5 });
    expect(documentId("shop", "src/cart.ts", 0)).toMatch(/^[0-9a-f]{40}$/);
    expect(documentId("shop", "src/cart.ts", 1)).not.toBe(documentId("shop", "src/cart.ts", 0));
  });

  it("asks neural_sparse with raw query_tokens and BM25 with boosted terms, both under the same filters", () => {
    const filters = { roots: ["shop"], kinds: ["code"], pathPrefixes: ["src/"] };
    const latent = latentQuery({ ids: [12, 7], weights: [1.5, 0.25] }, filters, 100);
    expect(latent).toMatchObject({ size: 100, query: { bool: { must: [{ neural_sparse: { latents: { query_tokens: { "12": 1.5, "7": 0.25 } } } }] } } });
    const lexical = lexicalQuery(new Map([["cart", 1], ["warenkorb", 0.5]]), filters, 100) as { query: { bool: { should: unknown[]; filter: unknown[] } } };
    expect(lexical.query.bool.should).toEqual([{ term: { terms: "cart" } }, { term: { terms: { value: "warenkorb", boost: 0.5 } } }]);
    const expectedFilters = [{ terms: { root: ["shop"] } }, { terms: { kind: ["code"] } }, { bool: { should: [{ prefix: { path: "src/" } }], minimum_should_match: 1 } }];
    expect(lexical.query.bool.filter).toEqual(expectedFilters);
    expect((latent as typeof lexical).query.bool.filter).toEqual(expectedFilters);
    expect(msearchBody("loupe", [lexical, latent]).split("\n")).toHaveLength(5);
    expect(latentQuery({ ids: [1], weights: [1] }, {}, 10, true)).toMatchObject({ query: { bool: { must: [{ neural_sparse: { latents_ann: { query_tokens: { "1": 1 }, method_parameters: { k: 10 } } } }] } } });
  });

  it("refuses zero, negative and non-finite weights before anything is sent", () => {
    for (const w of [0, -0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => bulkBody("loupe", [{ index: doc({ latent: { ids: [3], weights: [w] } }) }])).toThrow(/src\/cart\.ts:1: latent 3 has weight .*positive finite/);
      expect(() => latentQuery({ ids: [3], weights: [w] }, {}, 10)).toThrow(/the query: latent 3/);
    }
  });
});

describe("pushing a workspace and searching it", () => {
  let cluster: FakeOpenSearch;
  let dir: string;
  let root: string;
  let lexical: LexicalAnalyzer;
  const encoder = fakeEncoder("sha256:" + "b".repeat(64));
  const client = () => new OpenSearchClient({ url: cluster.url.replace("http://", "http://alice:s%40cret@"), index: "team", backoffMs: 1 });

  beforeAll(async () => {
    lexical = await openBridge();
    dir = await mkdtemp(join(tmpdir(), "loupe-os-"));
    root = join(dir, "shop");
    await cp(WORKSPACE, root, { recursive: true });
  });
  beforeEach(async () => {
    cluster?.stop();
    cluster = await new FakeOpenSearch().start();
  });
  afterAll(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates the index, writes every chunk once, and writes nothing when nothing changed", async () => {
    const first = await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    expect(cluster.requests[0]).toMatchObject({ method: "HEAD", path: "/team", authorization: `Basic ${Buffer.from("alice:s@cret").toString("base64")}` });
    expect(cluster.requests[1]).toMatchObject({ method: "PUT", path: "/team", contentType: "application/json" });
    const bulks = cluster.requests.filter((r) => r.path === "/_bulk");
    expect(bulks.every((r) => r.contentType === "application/x-ndjson" && r.body.endsWith("\n"))).toBe(true);
    const docs = cluster.docs("team");
    expect(docs).toHaveLength(first.chunks);
    expect(first.changed).toBe(first.files);
    expect(new Set(docs.map((d) => d.path)).size).toBe(first.files);
    expect(docs.every((d) => d.root === "shop" && typeof d.terms === "string" && Object.values(d.latents as object).every((w) => w > 0))).toBe(true);
    const before = cluster.requests.length;
    const again = await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    expect(again).toMatchObject({ changed: 0, removed: 0, chunks: 0 });
    expect(cluster.requests.slice(before).some((r) => r.path === "/_bulk")).toBe(false);
    expect(cluster.docs("team")).toHaveLength(first.chunks);
  });

  it("rewrites a changed file, deletes its chunks past the new count, and deletes files that are gone", async () => {
    await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    const notes = cluster.docs("team").filter((d) => String(d.path).endsWith(".md"));
    const longest = [...new Set(notes.map((d) => String(d.path)))].sort((a, b) => notes.filter((d) => d.path === b).length - notes.filter((d) => d.path === a).length)[0]!;
    expect(notes.filter((d) => d.path === longest).length).toBeGreaterThan(1);
    await writeFile(join(root, longest), "# Short now\n\nOne paragraph about the cart checkout.\n");
    const gone = cluster.docs("team").find((d) => String(d.path).endsWith(".ts"))!.path as string;
    await rm(join(root, gone));
    const r = await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    expect(r).toMatchObject({ changed: 1, removed: 1 });
    const left = cluster.docs("team");
    expect(left.filter((d) => d.path === longest)).toHaveLength(1);
    expect(left.some((d) => d.path === gone)).toBe(false);
    // Another root in the same index is left alone.
    await pushRoot(join(WORKSPACE, "notes"), { client: client(), name: "notes-only", encoder, lexical });
    expect(cluster.docs("team").filter((d) => d.root === "shop")).toHaveLength(left.length);
  });

  it("reuses vectors the caller already has instead of encoding again", async () => {
    const counting = fakeEncoder("sha256:" + "b".repeat(64));
    const have = new Map<string, { ids: Uint32Array; weights: Float32Array }>();
    const first = await pushRoot(root, { client: client(), name: "shop", encoder: counting, lexical, known: () => undefined });
    expect(counting.encoded.length).toBe(first.chunks);
    for (const d of cluster.docs("team")) have.set(`${d.path}#${d.hash}`, { ids: Uint32Array.of(1), weights: Float32Array.of(0.5) });
    await cluster.stop();
    cluster = await new FakeOpenSearch().start();
    const before = counting.encoded.length;
    const again = await pushRoot(root, { client: client(), name: "shop", encoder: counting, lexical, known: (path, hash) => have.get(`${path}#${hash}`) });
    expect(again.chunks).toBe(first.chunks);
    expect(counting.encoded.length).toBe(before); // nothing encoded: every vector was known
    expect(cluster.docs("team").every((d) => JSON.stringify(d.latents) === JSON.stringify({ "1": 0.5 }))).toBe(true);
  });

  it("waits and retries when the cluster pushes back, whole requests and single items", async () => {
    cluster.pushBack.push({ status: 429, retryAfter: "0" }, { status: 503 });
    await client().ensureIndex({ pack: encoder.fingerprint, packName: "fake", analyzer: 2 });
    expect(cluster.requests.slice(0, 3).map((r) => r.method)).toEqual(["HEAD", "HEAD", "HEAD"]);
    cluster.pushBack.push({ itemStatus: 429, items: 2 });
    const lines: string[] = [];
    const c = new OpenSearchClient({ url: cluster.url, index: "team", backoffMs: 1, log: (l) => lines.push(l) });
    const written = await c.bulk([{ index: doc() }, { index: doc({ ordinal: 1 }) }, { index: doc({ ordinal: 2 }) }]);
    expect(written).toEqual({ written: 3, requests: 2 });
    expect(cluster.docs("team")).toHaveLength(3);
    expect(lines.join("\n")).toMatch(/2 of 3 items refused with 429/);
    // A refusal that is not back-pressure fails the push with the cluster's reason.
    cluster.pushBack.push({ status: 400 });
    await expect(c.bulk([{ index: doc() }])).rejects.toThrow(/bulk write failed on OpenSearch \(HTTP 400\): rejected_execution_exception/);
  });

  it("cuts bulk bodies by size and by count", async () => {
    await client().ensureIndex({ pack: encoder.fingerprint, packName: "fake", analyzer: 2 });
    const c = new OpenSearchClient({ url: cluster.url, index: "team", maxBulkActions: 4 });
    const r = await c.bulk(Array.from({ length: 10 }, (_, i) => ({ index: doc({ ordinal: i }) })));
    expect(r).toEqual({ written: 10, requests: 3 });
    const one = bulkBody("team", [{ index: doc() }]).length;
    const small = new OpenSearchClient({ url: cluster.url, index: "team", maxBulkBytes: 2 * one + 10 });
    expect((await small.bulk(Array.from({ length: 6 }, (_, i) => ({ index: doc({ ordinal: i }) })))).requests).toBe(3);
  });

  it("refuses an index written with another pack, and one Loupe did not make", async () => {
    await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    const other = fakeEncoder("sha256:" + "c".repeat(64));
    await expect(pushRoot(root, { client: client(), name: "shop", encoder: other, lexical })).rejects.toThrow(/holds vectors of model pack fake.*cannot be mixed.*--recreate/);
    await fetch(`${cluster.url}/foreign`, { method: "PUT", body: JSON.stringify({ mappings: { properties: {} } }), headers: { "content-type": "application/json" } });
    await expect(new OpenSearchClient({ url: cluster.url, index: "foreign" }).ensureIndex({ pack: "p", packName: "n", analyzer: 2 })).rejects.toThrow(/not made by Loupe/);
    expect(() => new OpenSearchClient({ url: "ftp://x", index: "a" })).toThrow(/http or https/);
    expect(() => new OpenSearchClient({ url: cluster.url, index: "Bad Name" })).toThrow(/not an OpenSearch index name/);
  });

  it("searches both channels in one _msearch, filtered, and fuses them as Loupe does", async () => {
    await pushRoot(root, { client: client(), name: "shop", encoder, lexical });
    await pushRoot(join(WORKSPACE, "notes"), { client: client(), name: "notes-only", encoder, lexical });
    const before = cluster.requests.length;
    const hits = await searchCluster("cart checkout total", { client: client(), encoder, lexical, k: 5, filters: { roots: ["shop"] } });
    const sent = cluster.requests.slice(before);
    expect(sent.map((r) => r.path)).toEqual(["/_msearch"]);
    const [lexHeader, lex, latHeader, lat] = sent[0]!.body.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lexHeader).toEqual({ index: "team" });
    expect(latHeader).toEqual({ index: "team" });
    expect(lex.query.bool.filter).toEqual([{ terms: { root: ["shop"] } }]);
    expect(lat.query.bool.must[0].neural_sparse.latents.query_tokens).toBeTypeOf("object");
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.length).toBeLessThanOrEqual(5);
    expect(hits.every((h) => h.root === "shop" && h.text.length > 0 && h.endLine >= h.startLine)).toBe(true);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    expect(hits[0]!.score).toBeLessThanOrEqual(1); // normalised weighted sum
    const lexOnly = await searchCluster("cart checkout total", { client: client(), encoder, lexical, k: 5, mode: "lexical", filters: { roots: ["shop"] } });
    expect(lexOnly.every((h) => /cart|checkout|total/i.test(h.text))).toBe(true);
  });

  it("records how each chunk was read, and fuses a question with the notes of its own gloss language by their words, as Loupe does", async () => {
    const latin = Object.assign(fakeEncoder("sha256:" + "b".repeat(64)), { readableScripts: new Set(["Latin"]) });
    await pushRoot(join(WORKSPACE, "..", "vault-multilingual"), { client: client(), name: "vault", encoder: latin, lexical });
    const docs = cluster.docs("team").filter((d) => d.root === "vault");
    const of = (path: string) => docs.filter((d) => d.path === path);
    expect(of("Rezepte/Sauerteigbrot.md").every((d) => d.glossed_from === "de" && d.readable === undefined)).toBe(true);
    expect(of("garden/tomatoes.md").every((d) => d.glossed_from === undefined && d.readable === undefined)).toBe(true);
    expect(of("笔记/手冲咖啡.md").some((d) => d.glossed_from === "zh")).toBe(true);
    // A German question: every German note it finds ranks by its words; an English question's ranking uses both channels.
    const search = (query: string, mode: "hybrid" | "lexical") => searchCluster(query, { client: client(), encoder: latin, lexical, k: 10, mode, filters: { roots: ["vault"], pathPrefixes: ["Rezepte/", "Werkstatt/"] } });
    const german = "Wann kommt das Wasser in den Ofen, und wann in die Schüssel?";
    const [hybrid, lexicalOnly] = [await search(german, "hybrid"), await search(german, "lexical")];
    expect(hybrid.length).toBeGreaterThan(1);
    expect(hybrid.map((h) => [h.path, h.startLine])).toEqual(lexicalOnly.map((h) => [h.path, h.startLine]));
    expect(hybrid.map((h) => h.score)).toEqual(lexicalOnly.map((h) => h.score / lexicalOnly[0]!.score));
  });
});
