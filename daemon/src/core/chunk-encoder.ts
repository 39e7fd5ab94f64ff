// What the daemon needs from a model: document and query vectors, a fingerprint for the index,
// and labels for explanations. `packEncoder` adapts the real ONNX encoder; unit tests pass a
// deterministic fake, so everything above the model runs without ONNX.
import type { Encoder, SparseVector } from "../model/encoder.js";
import { loadLabels } from "../model/labels.js";

export interface ChunkEncoder {
  /** Identifies the vectors' space; an index built under another fingerprint is rebuilt. */
  readonly fingerprint: string;
  readonly name: string;
  readonly provider: string;
  /** Per-latent labels ("" or missing when unknown). */
  readonly labels: readonly string[] | null;
  encodeDocuments(texts: readonly string[]): Promise<SparseVector[]>;
  encodeQuery(text: string, topK?: number): Promise<SparseVector>;
  close(): Promise<void>;
}

export async function packEncoder(encoder: Encoder): Promise<ChunkEncoder> {
  const labels = await loadLabels(encoder.pack);
  return {
    fingerprint: encoder.pack.manifest.fingerprint,
    name: encoder.pack.manifest.name,
    provider: encoder.provider,
    labels,
    encodeDocuments: (texts) => encoder.encodeSparse(texts, "document"),
    encodeQuery: async (text, topK) => (await encoder.encodeSparse([text], "query", topK))[0]!,
    close: () => encoder.close(),
  };
}
