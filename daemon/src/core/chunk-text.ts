// Chunk texts read back from the files they came from. The index keeps where each chunk is
// (its lines, or a piece of one over-long line) and the hash of its text, never the text: the
// files already hold it, and a copy would make the index 1× the source bigger. A chunk
// whose file changed since it was indexed reads back as what the file now holds there, until the
// watcher's next batch re-indexes the file.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { splitLines } from "../chunk/types.js";
import type { ChunkMeta } from "../index/segment-writer.js";
import { readWorkspaceFile } from "../workspace/ignore.js";

/** The content hash of file and chunk texts (hex, 128 bits). */
export function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

type Where = Pick<ChunkMeta, "startLine" | "endLine" | "startCol" | "endCol">;

/** A chunk's text as the chunkers made it: lines startLine..endLine joined with "\n", or the piece of one line. */
export function sliceChunk(lines: readonly string[], c: Where): string {
  if (c.startCol !== undefined) return (lines[c.startLine - 1] ?? "").slice(c.startCol, c.endCol);
  return lines.slice(c.startLine - 1, c.endLine).join("\n");
}

export interface FileText {
  /** The file's text as indexing decodes it (sha of it is the file table's hash). */
  text: string;
  lines: string[];
}

/**
 * Reads files of one root, each once (make one reader per request or batch, so nothing stale is
 * kept). A file that is gone, unreadable or now too large reads as null.
 */
export class ChunkTextReader {
  private readonly files = new Map<string, Promise<FileText | null>>();

  constructor(
    private readonly root: string,
    private readonly maxFileBytes: number,
  ) {}

  file(path: string): Promise<FileText | null> {
    let f = this.files.get(path);
    if (!f) {
      f = readWorkspaceFile(join(this.root, ...path.split("/")), this.maxFileBytes).then((r) =>
        "skip" in r || r.text === undefined ? null : { text: r.text, lines: splitLines(r.text) },
      );
      this.files.set(path, f);
    }
    return f;
  }

  /** The chunk's text as its file holds it now (null when the file cannot be read). */
  async text(c: ChunkMeta): Promise<string | null> {
    const f = await this.file(c.path);
    return f ? sliceChunk(f.lines, c) : null;
  }
}
