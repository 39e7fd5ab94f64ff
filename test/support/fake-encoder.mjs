// A deterministic stand-in for the ONNX encoder (unit, integration and fault tiers): every
// analyzer term of a text maps to one of 512 latents by a hash, weighted by log(1 + count).
// Texts that share words share latents, so ranking behaves sensibly, and `encoded` records what
// was encoded. Plain JavaScript over the built analyzer, so that child processes (the fault
// suite's daemon) can use it as well as vitest; fake-encoder.ts gives it types.
import { createHash } from "node:crypto";
import { analyze } from "../../daemon/dist/analysis/analyzer.js";

function vector(text, k) {
  const counts = new Map();
  for (const t of analyze(text)) {
    const id = createHash("md5").update(t).digest().readUInt32LE(0) % 512;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const pairs = [...counts].map(([id, c]) => [id, Math.log1p(c)]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { ids: Uint32Array.from(pairs, (p) => p[0]), weights: Float32Array.from(pairs, (p) => p[1]) };
}

/** `delayMs`: time each encodeDocuments call takes, to stand in for a real encoder's work. */
export function fakeEncoder(fingerprint = "sha256:" + "0".repeat(64), delayMs = 0) {
  const encoded = [];
  return {
    fingerprint,
    name: "fake",
    provider: "cpu",
    labels: Array.from({ length: 512 }, (_, i) => `latent ${i}`),
    encoded,
    async encodeDocuments(texts) {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      encoded.push(...texts);
      return texts.map((t) => vector(t, 400));
    },
    async encodeQuery(text, topK) {
      return vector(text, topK ?? 40);
    },
    async close() {},
  };
}
