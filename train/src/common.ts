// Shared by the training scripts: the config file, a seeded random stream, and shard IO for
// token states.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { TrainSettings } from "@loupe/daemon/model/sae-train";

export interface TrainConfig {
  seed: number;
  corpus: { out: string; linesPerPassage: number; sources: unknown[] };
  states: { out: string; layers: number[] };
  sae: TrainSettings & { layer: number; heldOutFraction: number };
  layerProbe: { width: number; tokens: number; epochs: number };
}

export async function loadConfig(): Promise<TrainConfig & { path: string }> {
  const { values } = parseArgs({ options: { config: { type: "string", default: "train/config/sae.json" } }, strict: false });
  const path = resolve(String(values.config));
  return { ...(JSON.parse(await readFile(path, "utf8")) as TrainConfig), path };
}

/** mulberry32 and Fisher–Yates: the SAE trainer's own (model/sae-train.ts), so all training shuffles alike. */
export { seededRandom as rng, shuffle } from "@loupe/daemon/model/sae-train";
