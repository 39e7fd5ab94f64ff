// Latent labels: for every SAE latent, a short human description derived from the training
// corpus (its most frequent top-activating tokens), shipped in the pack as `labels.json`
// (an array indexed by latent id), so results can say why they matched.
import { readFile } from "node:fs/promises";
import type { ModelPack } from "./pack.js";

const cache = new WeakMap<ModelPack, string[] | null>();

export async function loadLabels(pack: ModelPack): Promise<string[] | null> {
  if (cache.has(pack)) return cache.get(pack)!;
  const file = pack.manifest.labels;
  const labels = file ? (JSON.parse(await readFile(pack.path(file), "utf8")) as { labels: string[] }).labels : null;
  cache.set(pack, labels);
  return labels;
}
