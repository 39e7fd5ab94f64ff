// Latent vectors by chunk content hash, least recently used first out. Lets an edit re-encode
// only the chunks whose text changed, and a renamed or copied file reuse its vectors. A vector
// of 400 latents costs about 3.2 KB, so the default 20,000 entries cap the cache near 64 MB.
import type { SparseVector } from "../model/encoder.js";

export class VectorCache {
  private readonly map = new Map<string, SparseVector>();
  constructor(readonly capacity = 20_000) {}

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
