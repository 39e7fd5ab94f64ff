// The fallback chunker: fixed windows of lines, for files no syntax- or heading-aware chunker
// knows (and for code whose grammar fails). A window over maxChars splits into smaller row ranges,
// and a single line over maxChars (a minified bundle, one-line JSON) into pieces with
// startCol/endCol, so no chunk exceeds maxChars. No IO.
import { chunkRows, DEFAULT_LIMITS, LineSizes, splitLines, type Chunk } from "./types.js";

export type { Chunk } from "./types.js";

/** Lines per chunk; default 30 (about one screen; ≈ 1–3 encoder windows of code). */
export const DEFAULT_LINES_PER_CHUNK = 30;

/**
 * Windows of `linesPerChunk` lines (1-based inclusive ranges, blank edge lines trimmed, blank
 * windows dropped), none longer than `maxChars` characters (default DEFAULT_LIMITS.maxChars).
 */
export function chunkLines(text: string, linesPerChunk = DEFAULT_LINES_PER_CHUNK, maxChars = DEFAULT_LIMITS.maxChars): Chunk[] {
  const lines = splitLines(text);
  const sizes = new LineSizes(lines);
  const limits = { maxLines: linesPerChunk, maxChars };
  const out: Chunk[] = [];
  for (let start = 0; start < lines.length; start += linesPerChunk) {
    const end = Math.min(start + linesPerChunk, lines.length) - 1;
    for (const { symbol: _symbol, ...c } of chunkRows(lines, sizes, start, end, "", limits)) out.push(c);
  }
  return out;
}
