// Exact sparse dot-product search over latent vectors with an in-memory inverted index: the
// oracle the on-disk index (index/) is checked against, and `loupe eval --engine memory`.
import type { SparseVector } from "../sparse-vector.js";
import { topK, type Hit } from "./topk.js";

export class SparseIndex {
  private readonly postingsDocs = new Map<number, number[]>();
  private readonly postingsWeights = new Map<number, number[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(v: SparseVector): number {
    const doc = this.count++;
    for (let i = 0; i < v.ids.length; i++) {
      const id = v.ids[i]!;
      let docs = this.postingsDocs.get(id);
      if (!docs) {
        docs = [];
        this.postingsDocs.set(id, docs);
        this.postingsWeights.set(id, []);
      }
      docs.push(doc);
      this.postingsWeights.get(id)!.push(v.weights[i]!);
    }
    return doc;
  }

  /**
   * Dot product of `q` with every document. With `idf`, each latent's product is also scaled by
   * its inverse document frequency, log(1 + (N − df + 0.5) / (df + 0.5)) as in BM25, which
   * damps latents that fire on most documents (format, position) in an SAE trained only to
   * reconstruct.
   */
  scores(q: SparseVector, idf = false): Float64Array {
    const out = new Float64Array(this.count);
    const n = this.count;
    for (let i = 0; i < q.ids.length; i++) {
      const docs = this.postingsDocs.get(q.ids[i]!);
      if (!docs) continue;
      const weights = this.postingsWeights.get(q.ids[i]!)!;
      const qw = q.weights[i]! * (idf ? Math.log(1 + (n - docs.length + 0.5) / (docs.length + 0.5)) : 1);
      for (let j = 0; j < docs.length; j++) out[docs[j]!]! += qw * weights[j]!;
    }
    return out;
  }

  search(q: SparseVector, k: number, idf = false): Hit[] {
    return topK(this.scores(q, idf), k, 0);
  }
}
