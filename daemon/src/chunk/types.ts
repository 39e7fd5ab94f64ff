// The shape every syntax- or heading-aware chunker returns, and the size limits they share.
import type { Chunk } from "./lines.js";

export interface SymbolChunk extends Chunk {
  /**
   * Code: the enclosing declaration path ("Server.handle"), "" at top level.
   * Markdown: the heading path ("Guide > Install > Linux"), "" before the first heading.
   */
  symbol: string;
}

export interface ChunkLimits {
  /** Most lines in one chunk (a single declaration, fence or line may exceed it when unsplittable). */
  maxLines: number;
  /** Most characters in one chunk (lines joined with "\n"). */
  maxChars: number;
}

/**
 * ~1,500 characters is about 350–500 encoder pieces (code after identifier splitting runs at
 * ~3–4 characters a piece, prose ~4–5), i.e. 3–5 of the encoder's 128-token windows (stride 96).
 * The sparse head max-pools over a text's windows, so a chunk of a few windows keeps every part's
 * latents without diluting them into a whole file, and a result stays about one screen (60 lines).
 * Its effect on retrieval is to be measured with `loupe eval --workspace` (issue 6).
 */
export const DEFAULT_LIMITS: ChunkLimits = { maxLines: 60, maxChars: 1500 };

/** Lines of a text as the chunkers see them: CRLF folded, one trailing empty line dropped. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** O(1) character counts of line ranges (0-based, inclusive), lines joined with "\n". */
export class LineSizes {
  private readonly prefix: Float64Array;
  constructor(readonly lines: readonly string[]) {
    this.prefix = new Float64Array(lines.length + 1);
    for (let i = 0; i < lines.length; i++) this.prefix[i + 1] = this.prefix[i]! + lines[i]!.length + 1;
  }
  chars(start: number, end: number): number {
    return end < start ? 0 : this.prefix[end + 1]! - this.prefix[start]! - 1;
  }
  fits(start: number, end: number, limits: ChunkLimits): boolean {
    return end - start + 1 <= limits.maxLines && this.chars(start, end) <= limits.maxChars;
  }
  blank(i: number): boolean {
    return this.lines[i]!.trim() === "";
  }
}

/**
 * Splits rows [start, end] (0-based) into pieces within the limits, breaking at the last blank
 * line of a piece when there is one in its second half, else where the limit is reached. Returns
 * 0-based inclusive ranges; a single line over maxChars stays whole.
 */
export function splitRows(sizes: LineSizes, start: number, end: number, limits: ChunkLimits): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = start;
  while (s <= end) {
    let e = s;
    while (e + 1 <= end && sizes.fits(s, e + 1, limits)) e++;
    if (e < end) {
      for (let b = e; b > s + (e - s) / 2; b--) {
        if (sizes.blank(b)) {
          e = b;
          break;
        }
      }
    }
    out.push([s, e]);
    s = e + 1;
  }
  return out;
}

/** Turns 0-based row ranges into chunks, trimming blank edge lines and dropping blank chunks. */
export function toChunk(lines: readonly string[], start: number, end: number, symbol: string): SymbolChunk | null {
  while (start <= end && lines[start]!.trim() === "") start++;
  while (end >= start && lines[end]!.trim() === "") end--;
  if (start > end) return null;
  return { startLine: start + 1, endLine: end + 1, symbol, text: lines.slice(start, end + 1).join("\n") };
}
