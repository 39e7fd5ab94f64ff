// The crash test's deterministic workload, shared by the writer child process and the test
// that checks what survived: batch b adds its chunks, may delete paths of earlier batches,
// and is committed with commitData { batch: b }. Plain JavaScript so the child can run it
// without a TypeScript loader.

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Batch b's chunks and the paths it deletes (deletes run after its adds). */
export function batch(b) {
  const random = rng(b * 7919);
  const count = 3 + Math.floor(random() * 25);
  const chunks = [];
  for (let i = 0; i < count; i++) {
    const ids = [...new Set(Array.from({ length: 1 + Math.floor(random() * 20) }, () => Math.floor(60 * random() * random())))].sort((x, y) => x - y);
    chunks.push({
      path: `b${b}/f${i % 4}.ts`, startLine: i + 1, endLine: i + 2, symbol: "", hash: `${b}:${i}`, text: `batch ${b} chunk ${i}`,
      root: "/w", language: "typescript", lexical: ["batch", `b${b}`, `c${i}`],
      latent: { ids: Uint32Array.from(ids), weights: Float32Array.from(ids, () => random() * 3) },
    });
  }
  const deletes = [];
  if (b > 3 && random() < 0.4) deletes.push(`b${1 + Math.floor(random() * (b - 1))}/f${Math.floor(random() * 4)}.ts`);
  return { chunks, deletes };
}

/** The chunk hashes that must be live after batches 1..last are committed. */
export function expected(last) {
  const live = new Map(); // hash → path
  for (let b = 1; b <= last; b++) {
    const { chunks, deletes } = batch(b);
    for (const c of chunks) live.set(c.hash, c.path);
    for (const p of deletes) for (const [h, path] of live) if (path === p) live.delete(h);
  }
  return new Set(live.keys());
}
