// One-shot search over a folder: scan, chunk by lines, index in memory, query. This is what
// `loupe search --root` runs until the daemon keeps a persistent index (issue 6); results are
// already in editor terms (path, 1-based lines, score, preview).
import { chunkLines, type Chunk } from "../chunk/lines.js";
import type { Encoder } from "../model/encoder.js";
import { Bm25Index } from "../search/bm25.js";
import { DenseIndex } from "../search/dense.js";
import { scanFolder, type Skipped } from "./scan.js";

export type SearchMode = "lexical" | "dense";

export interface SearchResult {
  path: string;
  startLine: number;
  endLine: number;
  score: number;
  /** The chunk's first non-blank lines, trimmed. */
  preview: string;
}

interface IndexedChunk extends Chunk {
  path: string;
}

export class FolderIndex {
  private constructor(
    private readonly chunks: IndexedChunk[],
    private readonly lexical: Bm25Index,
    private readonly dense: DenseIndex | null,
    private readonly encoder: Encoder | null,
    readonly files: number,
    readonly skipped: Skipped[],
  ) {}

  static async build(root: string, encoder: Encoder | null): Promise<FolderIndex> {
    const { files, skipped } = await scanFolder(root);
    const chunks: IndexedChunk[] = files.flatMap((f) => chunkLines(f.text).map((c) => ({ ...c, path: f.path })));
    const lexical = new Bm25Index();
    for (const c of chunks) lexical.add(`${c.path}\n${c.text}`);
    let dense: DenseIndex | null = null;
    if (encoder) {
      dense = new DenseIndex(encoder.hiddenSize, Math.max(chunks.length, 1));
      for (const v of await encoder.embed(chunks.map((c) => c.text))) dense.add(v);
    }
    return new FolderIndex(chunks, lexical, dense, encoder, files.length, skipped);
  }

  get chunkCount(): number {
    return this.chunks.length;
  }

  async search(query: string, mode: SearchMode, k: number): Promise<SearchResult[]> {
    let hits;
    if (mode === "lexical") {
      hits = this.lexical.search(query, k);
    } else {
      if (!this.dense || !this.encoder) throw new Error("dense search needs an encoder");
      const [v] = await this.encoder.embed([query]);
      hits = this.dense.search(v!, k);
    }
    return hits.map(({ doc, score }) => {
      const c = this.chunks[doc]!;
      const preview = c.text.split("\n").filter((l) => l.trim() !== "").slice(0, 2).map((l) => l.trim()).join(" ⏎ ");
      return { path: c.path, startLine: c.startLine, endLine: c.endLine, score: Math.round(score * 10000) / 10000, preview: preview.slice(0, 160) };
    });
  }
}
