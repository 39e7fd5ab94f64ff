// Shared by the benchmarks.
import { readFile } from "node:fs/promises";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { ortVersion } from "@loupe/daemon/model/encoder";
import { walkWorkspace } from "@loupe/daemon/workspace/ignore";

/** The first `n` chunk-sized texts (1,500 characters, the chunk limit) of a tree's indexable files, blank ones skipped. */
export async function chunkSizedTexts(tree: string, n: number): Promise<string[]> {
  const texts: string[] = [];
  for (const f of (await walkWorkspace(tree)).files) {
    const t = await readFile(join(tree, f.path), "utf8");
    for (let i = 0; i < t.length && texts.length < n; i += 1500) if (t.slice(i, i + 1500).trim()) texts.push(t.slice(i, i + 1500));
    if (texts.length >= n) break;
  }
  return texts;
}

/** The machine a result was measured on, as every benchmark records it. */
export function machineInfo(loadAtStart: number[]) {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    onnxruntime: ortVersion(),
    load_average_at_start: loadAtStart.map((x) => Math.round(x * 100) / 100),
  };
}

/** A fixed pseudo-random stream (mulberry32), so every run feeds the same inputs. Floats in [0, 1). */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `body` repeatedly for `seconds`; returns how many runs and how long they took. */
async function timeFor(seconds: number, body: () => Promise<unknown>): Promise<{ runs: number; ms: number }> {
  const start = performance.now();
  let runs = 0;
  while (performance.now() - start < seconds * 1000) {
    await body();
    runs++;
  }
  return { runs, ms: performance.now() - start };
}

/**
 * Times two bodies side by side in alternating rounds (so machine noise hits both alike) after
 * one warm-up run each; returns runs per second of each.
 */
export async function alternate(a: () => Promise<unknown>, b: () => Promise<unknown>, seconds: number, rounds: number): Promise<[number, number]> {
  await a();
  await b();
  const ta = { runs: 0, ms: 0 };
  const tb = { runs: 0, ms: 0 };
  for (let round = 0; round < rounds; round++) {
    for (const [body, total] of [[a, ta], [b, tb]] as const) {
      const t = await timeFor(seconds / rounds, body);
      total.runs += t.runs;
      total.ms += t.ms;
    }
  }
  return [ta.runs / (ta.ms / 1000), tb.runs / (tb.ms / 1000)];
}
