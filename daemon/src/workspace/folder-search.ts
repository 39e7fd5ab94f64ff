// One-shot search over a folder: scan, chunk by lines, index in memory, query. This is what
// `loupe search --root` runs until the daemon keeps a persistent index (issue 6); results are
// already in editor terms (path, 1-based lines, score, preview).
import { chunkLines, type Chunk } from "../chunk/lines.js";
import type { Encoder } from "../model/encoder.js";
import { Bm25Index } from "../search/bm25.js";
import { DenseIndex } from "../search/dense.js";
import { contentKind, DEFAULT_FUSION, fuse } from "../search/fusion.js";
import { SparseIndex } from "../search/sparse.js";
import type { Hit } from "../search/topk.js";
import { scanFolder, type Skipped } from "./scan.js";

export const SEARCH_MODES = ["hybrid", "lexical", "latent", "dense"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

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
    private readonly latent: SparseIndex | null,
    private readonly encoder: Encoder | null,
    readonly files: number,
    readonly skipped: Skipped[],
  ) {}

  /** Indexes `root` for `mode`; every mode but lexical needs the encoder. */
  static async build(root: string, encoder: Encoder | null, mode: SearchMode): Promise<FolderIndex> {
    const { files, skipped } = await scanFolder(root);
    const chunks: IndexedChunk[] = files.flatMap((f) => chunkLines(f.text).map((c) => ({ ...c, path: f.path })));
    const lexical = new Bm25Index();
    for (const c of chunks) lexical.add(`${c.path}\n${c.text}`);
    let dense: DenseIndex | null = null;
    let latent: SparseIndex | null = null;
    if (mode !== "lexical" && !encoder) throw new Error(`${mode} search needs an encoder`);
    if (mode === "dense") {
      dense = new DenseIndex(encoder!.hiddenSize, Math.max(chunks.length, 1));
      for (const v of await encoder!.embed(chunks.map((c) => c.text))) dense.add(v);
    } else if (mode !== "lexical") {
      latent = new SparseIndex();
      for (const v of await encoder!.encodeSparse(chunks.map((c) => c.text), "document")) latent.add(v);
    }
    return new FolderIndex(chunks, lexical, dense, latent, encoder, files.length, skipped);
  }

  get chunkCount(): number {
    return this.chunks.length;
  }

  async search(query: string, mode: SearchMode, k: number): Promise<SearchResult[]> {
    let hits: Hit[];
    if (mode === "lexical") {
      hits = this.lexical.search(query, k);
    } else if (mode === "dense") {
      if (!this.dense || !this.encoder) throw new Error("this index was not built for dense search");
      const [v] = await this.encoder.embed([query]);
      hits = this.dense.search(v!, k);
    } else {
      if (!this.latent || !this.encoder) throw new Error(`this index was not built for ${mode} search`);
      const [q] = await this.encoder.encodeSparse([query], "query");
      const latent = this.latent.search(q!, mode === "latent" ? k : DEFAULT_FUSION.depth);
      hits = mode === "latent" ? latent : fuse(this.lexical.search(query, DEFAULT_FUSION.depth), latent, k, DEFAULT_FUSION, (doc) => contentKind(this.chunks[doc]!.path));
    }
    return hits.map(({ doc, score }) => {
      const c = this.chunks[doc]!;
      const preview = c.text.split("\n").filter((l) => l.trim() !== "").slice(0, 2).map((l) => l.trim()).join(" ⏎ ");
      return { path: c.path, startLine: c.startLine, endLine: c.endLine, score: Math.round(score * 10000) / 10000, preview: preview.slice(0, 160) };
    });
  }
}
