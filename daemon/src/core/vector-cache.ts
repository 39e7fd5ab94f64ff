// Latent vectors by chunk content hash, least recently used first out: the recently encoded
// ones, for a copied file or an edit undone while its old chunks are already gone. An edit's
// unchanged chunks and a moved file's take their vectors from the index itself (RootIndex.apply),
// so the cache need not hold every chunk: a vector of 400 latents costs about 3.2 KB, and the
// default 2,048 entries cap it near 7 MB (20,000 held 10k chunks' vectors, ~35 MB, at rest).
import type { SparseVector } from "../sparse-vector.js";

export class VectorCache {
  private readonly map = new Map<string, SparseVector>();
  constructor(readonly capacity = 2_048) {}

  get size(): number {
    return this.map.size;
  }

  get(hash: string): SparseVector | undefined {
    const v = this.map.get(hash);
    if (v) {
      // Map keeps insertion order: re-inserting moves the entry to the young end.
      this.map.delete(hash);
      this.map.set(hash, v);
    }
    return v;
  }

  set(hash: string, v: SparseVector): void {
    this.map.delete(hash);
    this.map.set(hash, v);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}
