// The scripts a pack's encoder can read: those its tokenizer's vocabulary covers (see
// analysis/scripts.ts). Derived from the vocabulary, so a multilingual pack needs no setting.
// An open Encoder has them as `readableScripts`; this is for processes that hold no Encoder
// (the daemon's main thread, whose encoders run in worker threads).
import { readFile } from "node:fs/promises";
import { vocabularyScripts } from "../analysis/scripts.js";
import type { ModelPack } from "./pack.js";
import type { Vocabulary } from "./tokenizer.js";

export async function readableScripts(pack: ModelPack): Promise<Set<string>> {
  const vocabulary = JSON.parse(await readFile(pack.path(pack.manifest.tokenizer.file), "utf8")) as Vocabulary;
  return vocabularyScripts(vocabulary.map(([piece]) => piece));
}
