// Tier: integration (real Lucene from Debian's liblucene8-java through javac/java, the real
// default pack, the real bridge). OpenSearch cannot be installed here, but its data model can be
// run on the engine under it: the fixture workspace's chunks are indexed as OpenSearch would
// index Loupe's documents (terms: whitespace-analysed TextField, BM25 k1 0.9 b 0.6; latents:
// FeatureField per latent, as a rank_features field stores them) and asked the clauses
// OpenSearch makes of Loupe's queries (boosted term queries; neural_sparse with raw
// query_tokens = one linear FeatureField query per token), by test/support/lucene/LoupeLucene.java.
// Lucene's answers are compared with the exact dot product and with Loupe's own index.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { openBridge } from "../../daemon/src/analysis/bridge.js";
import { chunkFile } from "../../daemon/src/chunk/index.js";
import { sha } from "../../daemon/src/core/chunk-text.js";
import { fileKind, languageOf } from "../../daemon/src/file-types.js";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { latentQuery, weightedLexicalQuery } from "../../daemon/src/index/terms.js";
import { Encoder } from "../../daemon/src/model/encoder.js";
import { documentId, DOCUMENT_WEIGHT_DIGITS, latentFeatures } from "../../daemon/src/opensearch/format.js";
import type { SparseVector } from "../../daemon/src/sparse-vector.js";
import { walkWorkspace } from "../../daemon/src/workspace/ignore.js";
import { testPack } from "../support/default-pack.js";

/** Debian installs the jars with their version in the name (lucene-core-8.7.0.jar). */
function jar(name: string): string | undefined {
  const dir = "/usr/share/java";
  const found = existsSync(dir) ? readdirSync(dir).filter((f) => new RegExp(`^${name}-8[.\\d]*\\.jar$`).test(f)).sort() : [];
  return found.length ? join(dir, found[found.length - 1]!) : undefined;
}
const JARS = [jar("lucene-core"), jar("lucene-analyzers-common")];
const SOURCE = new URL("../support/lucene/LoupeLucene.java", import.meta.url).pathname;
/** Three small trees: the fixture workspace, the task fixture's shop, and Loupe's own docs (a few hundred chunks). */
const CORPORA = ["../../fixtures/workspace", "../../fixtures/tasks/repos", "../../docs"].map((p) => new URL(p, import.meta.url).pathname);
const QUESTIONS = [
  "cart checkout total price", "how are discounts applied", "parse the configuration file", "user login password", "retry a failed request",
  "how are postings stored in blocks", "memory the daemon holds at rest", "lexical weight in hybrid fusion", "pack fingerprint mismatch", "killed during a commit",
];
const K = 10;
/** FeatureField keeps 9 significant bits of each value, truncated: relative error below 2^-8. */
const FEATURE_PRECISION = 2 ** -8;
/** Documents' weights are sent with 4 significant digits: rounding within 5·10⁻⁴ either way. */
const SENT_PRECISION = 5e-4;

const installed = JARS.every((j) => j !== undefined);
// CI installs liblucene8-java (.ci/run) and requires this test; elsewhere it says what is missing.
const required = process.env.LOUPE_TEST_REQUIRE_LUCENE === "1";

interface Hit {
  id: string;
  score: number;
}

let lucene: { lexical: Hit[][]; latent: Hit[][] };
let loupe: { lexical: Hit[][]; latent: Hit[][] };
let exactLatent: Map<string, number>[];

describe.skipIf(!installed && !required)("Loupe's OpenSearch data model on Lucene 8 (liblucene8-java)", () => {
  beforeAll(async () => {
    if (!installed) throw new Error("Lucene 8 jars missing from /usr/share/java: apt-get install liblucene8-java");
    const pack = await testPack();
    const encoder = await Encoder.open(pack, { graph: "sparse", provider: "cpu", batchSize: 16 });
    const bridge = await openBridge();
    const docs: Array<{ id: string; terms: string[]; latent: SparseVector; meta: { path: string; startLine: number; endLine: number; symbol: string; language: string; hash: string } }> = [];
    const files = (await Promise.all(CORPORA.map(async (c, n) => (await walkWorkspace(c, { keepText: true })).files.map((f) => ({ ...f, path: `${n}/${f.path}` }))))).flat();
    for (const f of files) {
      const prose = fileKind(f.path) === "notes";
      const chunks = await chunkFile(f.path, f.text!);
      await bridge.prepare(chunks.map((c) => c.text));
      const vectors = await encoder.encodeSparse(chunks.map((c) => bridge.document(c.text, prose)), "document");
      chunks.forEach((c, i) => docs.push({ id: documentId("ws", f.path, i), terms: bridge.chunk(f.path, c.text, prose), latent: vectors[i]!, meta: { path: f.path, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol, language: languageOf(f.path), hash: sha(c.text) } }));
    }
    const queries = await Promise.all(QUESTIONS.map(async (q) => ({ terms: bridge.query(q).terms, latent: (await encoder.encodeSparse([q], "query"))[0]! })));
    await encoder.close();

    // Lucene, as OpenSearch would hold and ask the documents.
    const dir = await mkdtemp(join(tmpdir(), "loupe-lucene-"));
    // Documents' weights as they are sent (DOCUMENT_WEIGHT_DIGITS significant digits), queries' in full.
    const features = (v: SparseVector, digits?: number) => Object.entries(latentFeatures(v, "doc", digits)).map(([t, w]) => `${t}:${w}`).join(" ");
    await writeFile(join(dir, "docs.tsv"), docs.map((d) => `${d.id}\t${d.terms.join(" ")}\t${features(d.latent, DOCUMENT_WEIGHT_DIGITS)}`).join("\n") + "\n");
    await writeFile(join(dir, "queries.tsv"), [
      ...queries.map((q) => `lexical\t${K}\t${[...q.terms].map(([t, w]) => `${t}:${w}`).join(" ")}`),
      ...queries.map((q) => `latent\t${K}\t${features(q.latent)}`),
    ].join("\n"));
    const classpath = JARS.join(":");
    await promisify(execFile)("javac", ["-cp", classpath, "-d", dir, SOURCE]);
    const { stdout } = await promisify(execFile)("java", ["-cp", `${classpath}:${dir}`, "LoupeLucene", join(dir, "docs.tsv"), join(dir, "queries.tsv")], { maxBuffer: 16 << 20 });
    const all: Hit[][] = Array.from({ length: 2 * queries.length }, () => []);
    for (const line of stdout.trim().split("\n")) {
      const [q, id, score] = line.split("\t");
      all[Number(q)]!.push({ id: id!, score: Number(score) });
    }
    lucene = { lexical: all.slice(0, queries.length), latent: all.slice(queries.length) };

    // Loupe's own index over the same chunks.
    const index = await Index.open(new MemoryDirectory(), { pack: pack.manifest.fingerprint, analyzer: 2 });
    for (const d of docs) await index.add({ ...d.meta, root: "ws", lexical: d.terms, latent: d.latent });
    await index.commit();
    const searcher = index.searcher();
    const idOf = (doc: number) => docs.findIndex((d) => d.meta.path === searcher.chunk(doc).path && d.meta.startLine === searcher.chunk(doc).startLine && d.meta.hash === searcher.chunk(doc).hash);
    const asHits = (hits: Array<{ doc: number; score: number }>) => hits.map((h) => ({ id: docs[idOf(h.doc)]!.id, score: h.score }));
    loupe = {
      lexical: queries.map((q) => asHits(searcher.search(weightedLexicalQuery(q.terms), K))),
      latent: queries.map((q) => asHits(searcher.search(latentQuery(q.latent), K))),
    };
    exactLatent = queries.map((q) => {
      const weights = new Map(Array.from(q.latent.ids, (id, i) => [id, q.latent.weights[i]!]));
      return new Map(docs.map((d) => [d.id, Array.from(d.latent.ids).reduce((s, id, i) => s + (weights.get(id) ?? 0) * d.latent.weights[i]!, 0)]));
    });
    await index.close();
  }, 300_000);

  it("scores neural_sparse (linear FeatureField queries) as the exact dot product, within 9 bits and the 4 digits sent", () => {
    let checked = 0;
    lucene.latent.forEach((hits, q) => {
      expect(hits.length).toBe(K);
      for (const h of hits) {
        const exact = exactLatent[q]!.get(h.id)!;
        expect(h.score).toBeLessThanOrEqual(exact * (1 + SENT_PRECISION) + 1e-6); // Lucene's truncation only ever lowers a value
        expect(exact - h.score).toBeLessThanOrEqual(exact * (FEATURE_PRECISION + SENT_PRECISION) + 1e-6);
        checked++;
      }
    });
    expect(checked).toBe(K * QUESTIONS.length);
  });

  it("ranks the latent channel's top 10 as Loupe's own index does, up to ties within that precision", () => {
    lucene.latent.forEach((hits, q) => {
      const exact = exactLatent[q]!;
      const ours = loupe.latent[q]!.map((h) => h.id);
      const cut = Math.min(...ours.map((id) => exact.get(id)!));
      for (const h of hits) {
        // A hit only Lucene has must tie Loupe's 10th within both engines' weight precision.
        if (!ours.includes(h.id)) expect(Math.abs(exact.get(h.id)! - cut) / cut, `query ${q}: ${h.id}`).toBeLessThan(0.02);
      }
    });
  });

  it("ranks the BM25 channel as Loupe's own index does (Lucene 8 leaves out BM25's constant k1 + 1)", () => {
    let shared = 0;
    let answered = 0;
    lucene.lexical.forEach((hits, q) => {
      const ours = loupe.lexical[q]!;
      expect(hits.length, QUESTIONS[q]).toBe(ours.length);
      if (hits.length === 0) return; // no word of the question is in the fixture: neither engine finds anything
      answered++;
      const ourIds = new Set(ours.map((h) => h.id));
      shared += hits.filter((h) => ourIds.has(h.id)).length / Math.max(1, Math.min(hits.length, ours.length));
      // Top hit: the same document, with Loupe's score (k1 + 1)× Lucene's, up to Lucene's one-byte length norms.
      expect(hits[0]!.id).toBe(ours[0]!.id);
      expect(ours[0]!.score / hits[0]!.score).toBeCloseTo(1.9, 0);
      expect(Math.abs(ours[0]!.score / hits[0]!.score - 1.9)).toBeLessThan(0.15);
    });
    expect(answered).toBeGreaterThanOrEqual(QUESTIONS.length - 2);
    expect(shared / answered).toBeGreaterThan(0.9);
  });
});
