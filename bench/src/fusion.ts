// bench/fusion: measures how to fuse the lexical and latent channels, on whole eval sets.
// Encodes each set once, then scores lexical, latent, and every fusion setting in the grid
// (normalised weighted sum at several lexical weights, and reciprocal-rank fusion), so the
// choice in search/fusion.ts rests on numbers measured side by side.
//
// Each row also has "oracle α": the mean over queries of each query's best nDCG@10 over the
// weighted-sum grid (lexical alone and latent alone included). No rule that picks α per query
// from these lists can do better, so it says how much any query-adaptive fusion could find.
//
// With `--query-k 40,64` every query Top-K in the list is measured from the same document
// vectors (the query K is an inference-time knob; the document K shapes the index).
//
//   node bench/dist/fusion.js --sets ../shared/eval/cosqa-dev,../shared/eval/vaswani [--sae DIR] [--query-k K,K…]
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { docText, readEvalSet } from "@loupe/daemon/eval/beir";
import { ndcgAt } from "@loupe/daemon/eval/metrics";
import { scoreRankings as score } from "@loupe/daemon/eval/run";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder, type SparseVector } from "@loupe/daemon/model/encoder";
import { cacheDir } from "@loupe/protocol";
import { Bm25Index } from "@loupe/daemon/search/bm25";
import { DEFAULT_FUSION, fuse, type FusionOptions } from "@loupe/daemon/search/fusion";
import { SparseIndex } from "@loupe/daemon/search/sparse";

const { values } = parseArgs({
  options: {
    sets: { type: "string" },
    sae: { type: "string" },
    "query-k": { type: "string" },
    out: { type: "string", default: "bench/results/fusion.json" },
  },
});
if (!values.sets) throw new Error("--sets DIR[,DIR…] is required");

const pack = await ensureDefaultPack({ cacheDir: cacheDir(), ...(values.sae ? { saeDir: resolve(values.sae) } : {}) });
const encoder = await Encoder.open(pack, { provider: "cpu" });
const queryKs = values["query-k"] ? values["query-k"].split(",").map(Number) : [pack.manifest.topK.query];
const grid: Array<{ name: string; fusion: FusionOptions }> = [
  ...[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95].map((alpha) => ({ name: `wsum α=${alpha}`, fusion: { ...DEFAULT_FUSION, kind: "wsum" as const, alpha } })),
  { name: "rrf k=60", fusion: { ...DEFAULT_FUSION, kind: "rrf" as const, rrfK: 60 } },
];
/**
 * How the latent vocabulary is used over a corpus (SPLARE's balance claim): mean active latents
 * per document and per query, how many latents occur in any document, and the share of all
 * postings held by the 1% most frequent latents (a vocabulary of terms puts far more there).
 */
function sparsity(docs: SparseVector[], queries: SparseVector[], width: number) {
  const df = new Uint32Array(width);
  let postings = 0;
  for (const v of docs) for (const id of v.ids) (df[id]!++, postings++);
  const sorted = [...df].sort((a, b) => b - a);
  const top1 = sorted.slice(0, Math.ceil(width / 100)).reduce((a, b) => a + b, 0);
  const mean = (vs: SparseVector[]) => Math.round((vs.reduce((a, v) => a + v.ids.length, 0) / Math.max(1, vs.length)) * 10) / 10;
  return {
    doc_active_mean: mean(docs),
    query_active_mean: mean(queries),
    latents_used: sorted.filter((x) => x > 0).length,
    latents_width: width,
    top1pct_postings_share: Math.round((top1 / Math.max(1, postings)) * 1000) / 1000,
  };
}

/** Mean over queries of the best nDCG@10 any one of `rankings` (one list per query each) gives. */
function oracle(set: Awaited<ReturnType<typeof readEvalSet>>, rankings: ReturnType<Bm25Index["search"]>[][]): number {
  let sum = 0;
  set.queries.forEach((q, i) => {
    const relevant = set.qrels.get(q.id) ?? new Map<string, number>();
    sum += Math.max(...rankings.map((r) => ndcgAt(r[i]!.map((h) => set.docs[h.doc]!.id), relevant, 10)));
  });
  return Math.round((sum / Math.max(1, set.queries.length)) * 10000) / 10000;
}

const rows = [];
for (const dir of values.sets.split(",")) {
  const set = await readEvalSet(resolve(dir));
  const lexical = new Bm25Index();
  set.docs.forEach((d) => lexical.add(docText(d)));
  const latent = new SparseIndex();
  const texts = set.docs.map(docText);
  const docVectors: SparseVector[] = [];
  for (let i = 0; i < texts.length; i += 256) docVectors.push(...(await encoder.encodeSparse(texts.slice(i, i + 256), "document")));
  for (const v of docVectors) latent.add(v);
  const lex = set.queries.map((q) => lexical.search(q.text, 1000));
  for (const queryK of queryKs) {
    const queries = await encoder.encodeSparse(set.queries.map((q) => q.text), "query", queryK);
    const lat = queries.map((q) => latent.search(q, 1000));
    const latIdf = queries.map((q) => latent.search(q, 1000, true));
    const row: Record<string, unknown> = {
      set: dir, queries: set.queries.length, queryK, sparsity: sparsity(docVectors, queries, pack.manifest.sparseHead.saeWidth ?? 0),
      lexical: score(set, lex), latent: score(set, lat), "latent idf": score(set, latIdf),
    };
    const wsum = [lex, lat];
    for (const g of grid) {
      const fused = lex.map((l, i) => fuse(l, lat[i]!, 100, g.fusion));
      if (g.fusion.kind === "wsum") wsum.push(fused);
      row[g.name] = score(set, fused);
      row[`idf ${g.name}`] = score(set, lex.map((l, i) => fuse(l, latIdf[i]!, 100, g.fusion)));
    }
    row["oracle α"] = { "ndcg@10": oracle(set, wsum) };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
}
await encoder.close();
const result = { bench: "fusion", date: new Date().toISOString(), pack: pack.manifest.fingerprint, sae: values.sae ?? "shipped", rows };
const out = resolve(values.out);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + "\n");
