// Shared by the training scripts: the config file, a seeded random stream, and shard IO for
// token states.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

export interface TrainConfig {
  seed: number;
  corpus: { out: string; linesPerPassage: number; sources: unknown[] };
  states: { out: string; layers: number[] };
  sae: {
    layer: number;
    width: number;
    k: number;
    auxK: number;
    auxCoef: number;
    deadAfterTokens: number;
    batch: number;
    epochs: number;
    lr: number;
    heldOutFraction: number;
  };
  layerProbe: { width: number; tokens: number; epochs: number };
}

export async function loadConfig(): Promise<TrainConfig & { path: string }> {
  const { values } = parseArgs({ options: { config: { type: "string", default: "train/config/sae.json" } }, strict: false });
  const path = resolve(String(values.config));
  return { ...(JSON.parse(await readFile(path, "utf8")) as TrainConfig), path };
}

/** mulberry32: small, fast, and the same on every machine. Returns floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates in place. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A standard normal sample (Box–Muller). */
export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
