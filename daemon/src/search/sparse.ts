// Exact sparse dot-product search over latent vectors with an in-memory inverted index (the
// on-disk segment index of issue 5 replaces it and is checked against it).
import type { SparseVector } from "../model/encoder.js";
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

  scores(q: SparseVector): Float64Array {
    const out = new Float64Array(this.count);
    for (let i = 0; i < q.ids.length; i++) {
      const docs = this.postingsDocs.get(q.ids[i]!);
      if (!docs) continue;
      const weights = this.postingsWeights.get(q.ids[i]!)!;
      const qw = q.weights[i]!;
      for (let j = 0; j < docs.length; j++) out[docs[j]!]! += qw * weights[j]!;
    }
    return out;
  }

  search(q: SparseVector, k: number): Hit[] {
    return topK(this.scores(q), k, 0);
  }
}
