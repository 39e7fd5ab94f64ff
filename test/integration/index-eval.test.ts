// Tier: integration (real ONNX session on the default pack). The index engine scores like the
// in-memory scorers it replaces: BM25 to rounding, latent dot products within the uint8
// quantisation bound, and `loupe eval` gives the same metrics on both engines.
import { beforeAll, describe, expect, it } from "vitest";
import { analyze, ANALYZER_VERSION } from "../../daemon/src/analysis/analyzer.js";
import { docText, readEvalSet, type EvalSet } from "../../daemon/src/eval/beir.js";
import { runEval } from "../../daemon/src/eval/run.js";
import { MemoryDirectory } from "../../daemon/src/index/directory.js";
import { Index } from "../../daemon/src/index/index.js";
import { latentQuery, lexicalQuery } from "../../daemon/src/index/terms.js";
import { Encoder, type SparseVector } from "../../daemon/src/model/encoder.js";
import { Bm25Index } from "../../daemon/src/search/bm25.js";
import { SparseIndex } from "../../daemon/src/search/sparse.js";
import { testPack } from "../support/default-pack.js";

const TINY = new URL("../../fixtures/eval/tiny", import.meta.url).pathname;
let encoder: Encoder;
let set: EvalSet;
let docs: SparseVector[];

beforeAll(async () => {
  encoder = await Encoder.open(await testPack(), { provider: "cpu", batchSize: 8 });
  set = await readEvalSet(TINY);
  docs = await encoder.encodeSparse(set.docs.map(docText), "document");
});

describe("index engine vs in-memory scorers", () => {
  it("scores BM25 like Bm25Index and latents within quantisation noise of SparseIndex", async () => {
    const index = await Index.open(new MemoryDirectory(), { pack: encoder.pack.manifest.fingerprint, analyzer: ANALYZER_VERSION });
    const bm25 = new Bm25Index();
    const sparse = new SparseIndex();
    for (let i = 0; i < set.docs.length; i++) {
      const text = docText(set.docs[i]!);
      await index.add({ path: String(i), startLine: 1, endLine: 1, symbol: "", hash: "", root: "", language: "", lexical: analyze(text), latent: docs[i]! });
      bm25.add(text);
      sparse.add(docs[i]!);
    }
    await index.commit();
    const s = index.searcher();
    const queries = await encoder.encodeSparse(set.queries.map((q) => q.text), "query");
    set.queries.forEach((q, i) => {
      const lexical = bm25.scores(q.text);
      for (const h of s.search(lexicalQuery(analyze(q.text)), 8)) expect(h.score).toBeCloseTo(lexical[h.doc]!, 9);
      const v = queries[i]!;
      const exact = sparse.scores(v);
      // Per term, a stored weight is off by at most half a step of its term's scale / 255.
      let bound = 0;
      v.ids.forEach((id, j) => {
        let max = 0;
        for (const d of docs) d.ids.forEach((x, r) => { if (x === id && d.weights[r]! > max) max = d.weights[r]!; });
        bound += (v.weights[j]! * max) / 510;
      });
      for (const h of s.search(latentQuery(v), 8)) expect(Math.abs(h.score - exact[h.doc]!)).toBeLessThanOrEqual(bound + 1e-9);
    });
  });

  it.each(["lexical", "latent", "hybrid"] as const)("loupe eval gives the same metrics on both engines (%s)", async (mode) => {
    const onIndex = await runEval(set, { name: "tiny", mode, encoder, engine: "index" });
    const inMemory = await runEval(set, { name: "tiny", mode, encoder, engine: "memory" });
    for (const m of ["ndcg@10", "mrr@10", "recall@100"] as const) expect(onIndex[m]).toBeCloseTo(inMemory[m], 3);
  });
});
