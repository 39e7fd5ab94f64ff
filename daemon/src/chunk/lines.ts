// The fallback chunker: fixed windows of lines. Syntax-aware code chunks and heading-aware
// notes arrive with the daemon (issue 6); every chunker returns the same shape. No IO here.

export interface Chunk {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
}

/** Lines per chunk; default 30 (about one screen; ≈ 1–3 encoder windows of code). */
export const DEFAULT_LINES_PER_CHUNK = 30;

export function chunkLines(text: string, linesPerChunk = DEFAULT_LINES_PER_CHUNK): Chunk[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const out: Chunk[] = [];
  for (let start = 0; start < lines.length; start += linesPerChunk) {
    const slice = lines.slice(start, start + linesPerChunk);
    if (slice.every((l) => l.trim() === "")) continue;
    out.push({ startLine: start + 1, endLine: start + slice.length, text: slice.join("\n") });
  }
  return out;
}
