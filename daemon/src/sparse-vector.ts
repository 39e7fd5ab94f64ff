// A sparse vector over the SAE's latents: what the encoder makes, the index stores and the
// searcher scores. A leaf module, so that the index and the scorers need nothing of the model.

/** Active latents (ids) and their weights, in the same order; the order is up to the producer. */
export interface SparseVector {
  ids: Uint32Array;
  weights: Float32Array;
}
