// Plain text and prose: paragraphs (blank-line separated) merged up to the limits. A paragraph over
// the limits splits by lines; a single line over maxChars (CJK prose has no spaces and often no
// newlines) splits by sentences, then by characters; those pieces share the line's range.
import { DEFAULT_LIMITS, LineSizes, splitLines, splitRows, toChunk, type ChunkLimits, type SymbolChunk } from "./types.js";

/** Splits one over-long line into pieces of at most maxChars code points, at sentence ends when possible. */
export function splitLongLine(line: string, maxChars: number): string[] {
  const sentences = line.match(/[^。！？!?.;；]*[。！？!?.;；]+[\s"'」』）)]*|[^。！？!?.;；]+$/gu) ?? [line];
  const out: string[] = [];
  let cur = "";
  const push = (s: string) => {
    if (s.trim() !== "") out.push(s);
  };
  for (const s of sentences) {
    if ([...cur].length + [...s].length <= maxChars) {
      cur += s;
      continue;
    }
    push(cur);
    cur = "";
    const cps = [...s];
    for (let i = 0; i < cps.length; i += maxChars) {
      const piece = cps.slice(i, i + maxChars).join("");
      if (i + maxChars >= cps.length) cur = piece;
      else push(piece);
    }
  }
  push(cur);
  return out;
}

/** Turns rows [start, end] into chunks within the limits (lines first, then long lines by sentences). */
export function chunkRows(lines: string[], sizes: LineSizes, start: number, end: number, symbol: string, limits: ChunkLimits): SymbolChunk[] {
  const out: SymbolChunk[] = [];
  for (const [s, e] of splitRows(sizes, start, end, limits)) {
    if (s === e && lines[s]!.length > limits.maxChars) {
      for (const piece of splitLongLine(lines[s]!, limits.maxChars)) out.push({ startLine: s + 1, endLine: s + 1, symbol, text: piece });
      continue;
    }
    const c = toChunk(lines, s, e, symbol);
    if (c) out.push(c);
  }
  return out;
}

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

/** Packs blocks (0-based row ranges, in order) into chunks within the limits; oversized blocks split by rows unless `atomic` says not to. */
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
    if (sizes.fits(b[0], b[1], limits) || atomic(b)) cur = [b[0], b[1]];
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
