// Heading-aware markdown chunks. Each section (a heading through the line before the next heading)
// carries its heading path ("Guide > Install > Linux") as symbol; a section holding only its
// heading joins the next one. YAML front matter (--- … --- at line 1) is its own chunk with symbol
// "" — it is metadata (title, tags) worth finding, but would skew the first section's text. Fenced
// code blocks (``` or ~~~) are not split while within maxChars, even when over maxLines, and '#'
// lines inside them are not headings. Long sections split by paragraphs (then lines, then one
// over-long line — CJK prose without breaks — by sentences/characters). No chunk exceeds maxChars,
// front matter and fences included. No IO.
import { packBlocks } from "./text.js";
import { chunkRows, DEFAULT_LIMITS, LineSizes, splitLines, type ChunkLimits, type SymbolChunk } from "./types.js";

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;

interface Section {
  start: number; // 0-based row of the heading (or of the first line before any heading)
  end: number;
  symbol: string;
  /** Fenced blocks inside, as 0-based inclusive ranges (never split). */
  fences: Array<[number, number]>;
}

function frontMatterEnd(lines: readonly string[]): number {
  if (lines[0]?.trimEnd() !== "---") return -1;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!.trimEnd();
    if (l === "---" || l === "...") return i;
  }
  return -1;
}

function sections(lines: readonly string[], from: number): Section[] {
  const out: Section[] = [];
  const path: Array<{ level: number; title: string }> = [];
  let cur: Section = { start: from, end: from - 1, symbol: "", fences: [] };
  let fence: { char: string; len: number; start: number } | null = null;
  const open = (row: number, level: number, title: string) => {
    cur.end = row - 1;
    out.push(cur);
    while (path.length > 0 && path[path.length - 1]!.level >= level) path.pop();
    path.push({ level, title: title.trim() });
    cur = { start: row, end: row, symbol: path.map((p) => p.title).join(" > "), fences: [] };
  };
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    if (fence) {
      const m = FENCE.exec(line);
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.len && m[2]!.trim() === "") {
        cur.fences.push([fence.start, i]);
        fence = null;
      }
      continue;
    }
    const f = FENCE.exec(line);
    if (f && !(f[1]![0] === "`" && f[2]!.includes("`"))) {
      fence = { char: f[1]![0]!, len: f[1]!.length, start: i };
      continue;
    }
    const h = ATX.exec(line);
    if (h) {
      open(i, h[1]!.length, h[2] ?? "");
      continue;
    }
    // Setext: a one-line paragraph underlined with === (level 1) or --- (level 2).
    const s = SETEXT.exec(line);
    const prev = i > from ? lines[i - 1]! : "";
    const before = i - 2 >= from ? lines[i - 2]! : "";
    const isHeadingLine = i - 1 === cur.start && cur.symbol !== "";
    if (s && prev.trim() !== "" && (before.trim() === "" || ATX.test(before) || i - 2 < from) && !isHeadingLine && !ATX.test(prev) && !/^ {0,3}([-*+>]|\d+[.)])\s/.test(prev) && !FENCE.test(prev)) {
      open(i - 1, s[1]![0] === "=" ? 1 : 2, prev);
    }
  }
  if (fence) cur.fences.push([fence.start, lines.length - 1]); // unclosed: runs to the end
  cur.end = lines.length - 1;
  out.push(cur);
  return out.filter((s) => s.end >= s.start);
}

/** Blocks of a section: paragraphs, with each fence (and any blank lines in it) one block. */
function blocks(lines: readonly string[], sec: Section): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = -1;
  let fi = 0;
  for (let i = sec.start; i <= sec.end; i++) {
    const fence = sec.fences[fi];
    if (fence && i === fence[0]) {
      if (s >= 0) out.push([s, i - 1]);
      s = -1;
      out.push([fence[0], Math.min(fence[1], sec.end)]);
      i = fence[1];
      fi++;
      continue;
    }
    const blank = lines[i]!.trim() === "";
    if (!blank && s < 0) s = i;
    if (blank && s >= 0) {
      out.push([s, i - 1]);
      s = -1;
    }
  }
  if (s >= 0) out.push([s, sec.end]);
  return out;
}

export function chunkMarkdown(text: string, limits: ChunkLimits = DEFAULT_LIMITS): SymbolChunk[] {
  const lines = splitLines(text);
  const sizes = new LineSizes(lines);
  const out: SymbolChunk[] = [];
  const fm = frontMatterEnd(lines);
  if (fm >= 0) out.push(...chunkRows(lines, sizes, 0, fm, "", { maxLines: Infinity, maxChars: limits.maxChars }));
  const secs = sections(lines, fm + 1);
  let carry: number | null = null; // start row of heading-only sections waiting for the next one
  for (let k = 0; k < secs.length; k++) {
    const sec = secs[k]!;
    const bs = blocks(lines, sec);
    const headingOnly = sec.symbol !== "" && bs.length === 1 && bs[0]![0] === sec.start && bs[0]![1] === sec.start;
    if (headingOnly && k + 1 < secs.length) {
      carry ??= sec.start;
      continue;
    }
    if (carry !== null && bs.length > 0) {
      // The parent headings' lines join the first block (they are short).
      bs[0] = [carry, bs[0]![1]];
      carry = null;
    }
    const hasFence = (b: [number, number]) => sec.fences.some((f) => f[0] >= b[0] && f[0] <= b[1]);
    out.push(...packBlocks(lines, sizes, bs, sec.symbol, limits, hasFence));
  }
  return out;
}
