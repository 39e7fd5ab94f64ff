// chunkFile: picks a chunker by extension. Code → syntax-aware (tree-sitter), markdown → heading-
// aware, plain text → paragraphs, anything else → line windows. Every chunk has a 1-based
// inclusive line range and a symbol ("" when none); chunks come in document order, every non-blank
// line is in exactly one of them, and no chunk's text is longer than limits.maxChars — a longer
// line is cut into pieces that share its line range and carry startCol/endCol (see types.ts Chunk).
import { chunkerFor } from "../file-types.js";
import { chunkCode } from "./code.js";
import { chunkLines, DEFAULT_LINES_PER_CHUNK } from "./lines.js";
import { chunkMarkdown } from "./markdown.js";
import { chunkText } from "./text.js";
import { DEFAULT_LIMITS, type ChunkLimits, type SymbolChunk } from "./types.js";

export type { SymbolChunk, ChunkLimits } from "./types.js";

/**
 * Bumped whenever the chunks or symbols made of some file change (2: CommonJS member assignments
 * such as `res.format = function` are declarations with a symbol). An index records the version
 * its chunks were made with; under another one every file is chunked again on start-up, and only
 * chunks whose text changed are encoded again (the others keep their vectors, by content hash).
 */
export const CHUNKER_VERSION = 2;
export { DEFAULT_LIMITS } from "./types.js";

export { chunkerFor } from "../file-types.js";

export async function chunkFile(path: string, text: string, limits: ChunkLimits = DEFAULT_LIMITS): Promise<SymbolChunk[]> {
  switch (chunkerFor(path)) {
    case "code": {
      const chunks = await chunkCode(path, text, { limits });
      if (chunks) return chunks;
      break; // grammar failed to load or parse: line windows below
    }
    case "markdown":
      return chunkMarkdown(text, limits);
    case "text":
      return chunkText(text, limits);
    case "lines":
      break;
  }
  return chunkLines(text, Math.min(DEFAULT_LINES_PER_CHUNK, limits.maxLines), limits.maxChars).map((c) => ({ ...c, symbol: "" }));
}
