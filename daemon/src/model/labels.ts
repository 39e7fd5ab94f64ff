// Latent labels: for every SAE latent, a short human description derived from the training
// corpus (its most frequent top-activating tokens), shipped in the pack as `labels.json`
// (an array indexed by latent id), so results can say why they matched.
import { readFile } from "node:fs/promises";
import type { ModelPack } from "./pack.js";
import { vocabularyPieces } from "./readable-scripts.js";
import { vocabularyWords } from "./tokenizer.js";

const cache = new WeakMap<ModelPack, string[] | null>();

export async function loadLabels(pack: ModelPack): Promise<string[] | null> {
  if (cache.has(pack)) return cache.get(pack)!;
  const file = pack.manifest.labels;
  const labels = file ? (JSON.parse(await readFile(pack.path(file), "utf8")) as { labels: string[] }).labels : null;
  cache.set(pack, labels);
  return labels;
}

const conceptCache = new WeakMap<ModelPack, string[] | null>();

/**
 * The labels as a hit's concepts show them: only the parts of a label that are whole words of
 * three letters or more (whole words of the tokenizer's vocabulary: see vocabularyWords) and not
 * function words, case-folded duplicates dropped; "" when no part is readable. Most labels of the default pack are word
 * pieces and punctuation (`. / ( / a`, `ries / ou / ue`): those latents still score, but a hit
 * does not show them as concepts.
 */
export async function loadConceptLabels(pack: ModelPack): Promise<string[] | null> {
  if (conceptCache.has(pack)) return conceptCache.get(pack)!;
  const labels = await loadLabels(pack);
  let out: string[] | null = null;
  if (labels) {
    const words = vocabularyWords(await vocabularyPieces(pack));
    out = labels.map((l) => readableLabel(l, (w) => words.has(w.toLowerCase())));
  }
  conceptCache.set(pack, out);
  return out;
}

/** English function words: whole words, but they say nothing about what a latent means. */
const FUNCTION_WORDS = new Set(
  ("the and for are but not you all any can had her was one our out has him his how its may new now old see two way who did get let put say she too use " +
    "this that with from they will would there their what about which when make like than then them these some could other into more only over such " +
    "also back after very just where most much should well were been have each does here those because while both through").split(" "),
);

/** The readable parts of a " / "-separated label (see loadConceptLabels); `isWord` says whether a vocabulary knows a word. */
export function readableLabel(label: string, isWord: (w: string) => boolean): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const part of label.split(" / ")) {
    const p = part.trim();
    if (!/^\p{L}{3,}$/u.test(p) || !isWord(p) || FUNCTION_WORDS.has(p.toLowerCase()) || seen.has(p.toLowerCase())) continue;
    seen.add(p.toLowerCase());
    parts.push(p);
  }
  return parts.join(" / ");
}
