// The scripts a pack's encoder can read: those its tokenizer's vocabulary covers (see
// analysis/scripts.ts). Derived from the vocabulary, so a multilingual pack needs no setting.
// An open Encoder has them as `readableScripts`; this is for processes that hold no Encoder
// (the daemon's main thread, whose encoders run in worker threads).
import { readFile } from "node:fs/promises";
import { vocabularyScripts } from "../analysis/scripts.js";
import type { ModelPack } from "./pack.js";
import { hfPieces, type Vocabulary } from "./tokenizer.js";

/** The pieces of a pack's tokenizer vocabulary, whatever its kind. */
export async function vocabularyPieces(pack: ModelPack): Promise<string[]> {
  const json = JSON.parse(await readFile(pack.path(pack.manifest.tokenizer.file), "utf8")) as unknown;
  if (pack.manifest.tokenizer.kind === "use-sentencepiece") return (json as Vocabulary).map(([piece]) => piece);
  return hfPieces(json as Parameters<typeof hfPieces>[0]);
}

export async function readableScripts(pack: ModelPack): Promise<Set<string>> {
  return vocabularyScripts(await vocabularyPieces(pack));
}
