// The shape every chunker returns, the size limits they share, and the row helpers they build
// chunks with (row windows, blank-edge trimming, cutting one over-long line into pieces). No IO.

export interface Chunk {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /**
   * The chunk's text: lines startLine..endLine joined with "\n" — or, for a piece of a single
   * line longer than maxChars (a minified bundle, a one-line JSON file, CJK prose without breaks),
   * that piece only, with startCol/endCol set.
   */
  text: string;
  /**
   * Only on a piece of one over-long line (then startLine === endLine): the piece is
   * line.slice(startCol, endCol) — 0-based UTF-16 offsets, end exclusive, as in LSP positions.
   * Pieces of one line come in order and never overlap; whitespace-only pieces are dropped.
   */
  startCol?: number;
  endCol?: number;
}

export interface SymbolChunk extends Chunk {
  /**
   * Code: the enclosing declaration path ("Server.handle"), "" at top level; a chunk merged from
   * several small declarations lists them ("A, B, C" — see mergedSymbol).
   * Markdown: the heading path ("Guide > Install > Linux"), "" before the first heading.
   */
  symbol: string;
}

export interface ChunkLimits {
  /**
   * Most lines in one chunk. Soft in two places: a markdown fence stays whole while within
   * maxChars, and a code chunk takes its closing punctuation line ("}", "});") along.
   */
  maxLines: number;
  /**
   * Most characters (UTF-16 code units, as String.length) in one chunk's text, lines joined with
   * "\n". A hard bound for every chunker: a line longer than this is cut into pieces. At least 2
   * (a surrogate pair is never cut).
   */
  maxChars: number;
}

/**
 * ~1,500 characters is about 350–500 encoder pieces (code after identifier splitting runs at
 * ~3–4 characters a piece, prose ~4–5), i.e. 3–5 of the encoder's 128-token windows (stride 96).
 * The sparse head max-pools over a text's windows, so a chunk of a few windows keeps every part's
 * latents without diluting them into a whole file, and a result stays about one screen (60 lines).
 * Its effect on retrieval is measured with `loupe eval --workspace` (docs/quality.md).
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
 * 0-based inclusive ranges; a single line over maxChars comes back as its own range [i, i] (cut it
 * with splitLongLine).
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

// Where an over-long line is best cut, best first: after a sentence or statement end, then after a
// space or a list/argument separator, else anywhere (never inside a surrogate pair).
const SENTENCE_END = new Set([..."。！？；;}"]);
const SENTENCE_END_BEFORE_SPACE = new Set([...".!?"]);
/** Taken along after a sentence or statement end: closing quotes and brackets, "})," / "});". */
const TRAILERS = new Set([..."\"'」』）)],;"]);
const SOFT_BREAK_AFTER = new Set([..."，、,{([)]"]);
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\f" || c === "\v" || c === "\u3000";

/**
 * Cuts one line into pieces of at most maxChars UTF-16 code units that tile it exactly (their
 * concatenation is the line). Each cut is the last good break in the second half of the window:
 * a sentence or statement end ("。", ";", ". ", "}") with the quotes, brackets, separators and
 * spaces after it, else a space or separator (",", "{", "("…), else the window's end. Breaking in
 * the second half keeps every piece but the last at least maxChars / 2 long. Returns [start, end)
 * offsets.
 */
export function splitLongLine(line: string, maxChars: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const max = Math.max(2, Math.floor(maxChars)); // room for one surrogate pair
  let pos = 0;
  while (pos < line.length) {
    const limit = pos + max;
    if (limit >= line.length) {
      out.push([pos, line.length]);
      break;
    }
    let strong = -1;
    let soft = -1;
    for (let p = limit; p > pos + max / 2 && strong < 0; p--) {
      const c = line[p - 1]!;
      if (SENTENCE_END.has(c) || (SENTENCE_END_BEFORE_SPACE.has(c) && isSpace(line[p]))) strong = p;
      else if (soft < 0 && (SOFT_BREAK_AFTER.has(c) || (isSpace(c) && !isSpace(line[p])))) soft = p;
    }
    let cut = strong >= 0 ? strong : soft >= 0 ? soft : limit;
    if (strong >= 0) while (cut < limit && (TRAILERS.has(line[cut]!) || isSpace(line[cut]))) cut++;
    const code = line.charCodeAt(cut - 1);
    if (cut === limit && code >= 0xd800 && code <= 0xdbff) cut--; // keep a surrogate pair together
    out.push([pos, cut]);
    pos = cut;
  }
  return out;
}

/**
 * Chunks for rows [start, end] (0-based) within the limits: the whole range when it fits (blank
 * edges trimmed), else row windows (splitRows), and any single line over maxChars cut into pieces
 * that share its line range and carry startCol/endCol. No chunk's text exceeds maxChars.
 */
export function chunkRows(lines: readonly string[], sizes: LineSizes, start: number, end: number, symbol: string, limits: ChunkLimits): SymbolChunk[] {
  while (start <= end && sizes.blank(start)) start++;
  while (end >= start && sizes.blank(end)) end--;
  const out: SymbolChunk[] = [];
  if (start > end) return out;
  for (const [s, e] of splitRows(sizes, start, end, limits)) {
    if (s === e && lines[s]!.length > limits.maxChars) {
      const line = lines[s]!;
      for (const [a, b] of splitLongLine(line, limits.maxChars)) {
        const text = line.slice(a, b);
        if (text.trim() !== "") out.push({ startLine: s + 1, endLine: s + 1, symbol, text, startCol: a, endCol: b });
      }
      continue;
    }
    const c = toChunk(lines, s, e, symbol);
    if (c) out.push(c);
  }
  return out;
}
