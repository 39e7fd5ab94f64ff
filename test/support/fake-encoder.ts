// A deterministic stand-in for the ONNX encoder (unit and integration tiers): every analyzer
// term of a text maps to one of 512 latents by a hash, weighted by log(1 + count). Texts that
// share words share latents, so ranking behaves sensibly, and `calls` counts what was encoded.
import { createHash } from "node:crypto";
import { analyze } from "../../daemon/src/analysis/analyzer.js";
import type { ChunkEncoder } from "../../daemon/src/core/chunk-encoder.js";
import type { SparseVector } from "../../daemon/src/model/encoder.js";

function vector(text: string, k: number): SparseVector {
  const counts = new Map<number, number>();
  for (const t of analyze(text)) {
    const id = createHash("md5").update(t).digest().readUInt32LE(0) % 512;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const pairs = [...counts].map(([id, c]) => [id, Math.log1p(c)] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { ids: Uint32Array.from(pairs, (p) => p[0]), weights: Float32Array.from(pairs, (p) => p[1]) };
}

export interface FakeEncoder extends ChunkEncoder {
  /** Texts passed to encodeDocuments, in order. */
  readonly encoded: string[];
}

export function fakeEncoder(fingerprint = "sha256:" + "0".repeat(64)): FakeEncoder {
  const encoded: string[] = [];
  return {
    fingerprint,
    name: "fake",
    provider: "cpu",
    labels: Array.from({ length: 512 }, (_, i) => `latent ${i}`),
    encoded,
    async encodeDocuments(texts) {
      encoded.push(...texts);
      return texts.map((t) => vector(t, 400));
    },
    async encodeQuery(text, topK) {
      return vector(text, topK ?? 40);
    },
    async close() {},
  };
}
