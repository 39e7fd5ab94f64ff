// Brute-force cosine search over L2-normalised embeddings: the dense baseline.
import { topK, type Hit } from "./topk.js";

export class DenseIndex {
  private data: Float32Array;
  private count = 0;

  constructor(readonly dim: number, capacity = 1024) {
    this.data = new Float32Array(dim * capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds a normalised vector and returns its document number. */
  add(vector: Float32Array): number {
    if (vector.length !== this.dim) throw new Error(`vector of ${vector.length} dims; index has ${this.dim}`);
    if ((this.count + 1) * this.dim > this.data.length) {
      const grown = new Float32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(vector, this.count * this.dim);
    return this.count++;
  }

  scores(query: Float32Array): Float32Array {
    const out = new Float32Array(this.count);
    const d = this.dim;
    for (let doc = 0; doc < this.count; doc++) {
      let s = 0;
      const base = doc * d;
      for (let i = 0; i < d; i++) s += this.data[base + i]! * query[i]!;
      out[doc] = s;
    }
    return out;
  }

  search(query: Float32Array, k: number): Hit[] {
    return topK(this.scores(query), k);
  }
}
