// Plain text and prose: paragraphs (blank-line separated) merged up to the limits. A paragraph over
// the limits splits by lines; a single line over maxChars (CJK prose has no spaces and often no
// newlines) is cut at sentence ends, then spaces, then anywhere (types.ts splitLongLine); those
// pieces share the line's range and carry startCol/endCol. No IO.
import { chunkRows, DEFAULT_LIMITS, LineSizes, splitLines, toChunk, type ChunkLimits, type SymbolChunk } from "./types.js";

/** Blocks of rows separated by blank lines, as 0-based inclusive ranges. */
export function paragraphs(lines: readonly string[], start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = -1;
  for (let i = start; i <= end + 1; i++) {
    const blank = i > end || lines[i]!.trim() === "";
    if (!blank && s < 0) s = i;
    if (blank && s >= 0) {
      out.push([s, i - 1]);
      s = -1;
    }
  }
  return out;
}

/**
 * Packs blocks (0-based row ranges, in order) into chunks within the limits; oversized blocks
 * split by rows, except that an `atomic` block (a markdown fence) over maxLines stays whole while
 * it is within maxChars — maxChars is never exceeded.
 */
export function packBlocks(
  lines: string[],
  sizes: LineSizes,
  blocks: Array<[number, number]>,
  symbol: string,
  limits: ChunkLimits,
  atomic: (block: [number, number]) => boolean = () => false,
): SymbolChunk[] {
  const out: SymbolChunk[] = [];
  let cur: [number, number] | null = null;
  const flush = () => {
    if (cur) {
      const c = toChunk(lines, cur[0], cur[1], symbol);
      if (c) out.push(c);
    }
    cur = null;
  };
  for (const b of blocks) {
    if (cur && sizes.fits(cur[0], b[1], limits)) {
      cur = [cur[0], b[1]];
      continue;
    }
    flush();
    if (sizes.fits(b[0], b[1], limits) || (atomic(b) && sizes.chars(b[0], b[1]) <= limits.maxChars)) cur = [b[0], b[1]];
    else out.push(...chunkRows(lines, sizes, b[0], b[1], symbol, limits));
  }
  flush();
  return out;
}

export function chunkText(text: string, limits: ChunkLimits = DEFAULT_LIMITS): SymbolChunk[] {
  const lines = splitLines(text);
  const sizes = new LineSizes(lines);
  return packBlocks(lines, sizes, paragraphs(lines, 0, lines.length - 1), "", limits);
}
