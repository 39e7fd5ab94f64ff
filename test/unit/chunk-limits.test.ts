// Tier: unit. The limits every chunker keeps: no chunk's text over maxChars — a line longer than
// that (a minified bundle, one-line JSON, CJK prose) is cut into pieces that share its line range
// and carry startCol/endCol — and every non-blank line covered once, in order. Fixed fixtures plus
// a property check over seeded random files for each chunker kind.
import { describe, expect, it } from "vitest";
import { rng } from "../../bench/src/common.js";
import { chunkFile, chunkerFor, type ChunkLimits, type SymbolChunk } from "../../daemon/src/chunk/index.js";
import { chunkLines } from "../../daemon/src/chunk/lines.js";
import { chunkMarkdown } from "../../daemon/src/chunk/markdown.js";
import { DEFAULT_LIMITS, splitLongLine } from "../../daemon/src/chunk/types.js";

/**
 * Checks the invariants and returns the chunks' [startLine, endLine, startCol?] in order:
 * text within maxChars; a whole-line chunk's text is its lines (blank edges trimmed); a piece's
 * text is line.slice(startCol, endCol); positions strictly ascend; each non-blank line is in
 * exactly one whole-line chunk, or its pieces cover all of its non-space characters.
 */
function check(text: string, chunks: SymbolChunk[], limits: ChunkLimits): Array<[number, number, number?]> {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  let prevLine = 0;
  let prevCol = Infinity; // end column of the previous chunk when it was a piece of prevLine
  const whole = new Array<number>(lines.length + 1).fill(0);
  const covered = new Map<number, boolean[]>(); // line → characters covered by pieces
  for (const c of chunks) {
    const where = `chunk ${c.startLine}-${c.endLine}${c.startCol === undefined ? "" : `@${c.startCol}`}`;
    expect(c.text.length, where).toBeLessThanOrEqual(limits.maxChars);
    expect(c.text.trim(), where).not.toBe("");
    if (c.startCol === undefined) {
      expect(c.endCol, where).toBeUndefined();
      expect(c.startLine, where).toBeGreaterThan(prevLine);
      expect(c.endLine, where).toBeGreaterThanOrEqual(c.startLine);
      expect(c.text, where).toBe(lines.slice(c.startLine - 1, c.endLine).join("\n"));
      for (let i = c.startLine; i <= c.endLine; i++) whole[i]!++;
      prevCol = Infinity;
    } else {
      expect(c.endLine, where).toBe(c.startLine);
      if (c.startLine === prevLine) expect(c.startCol, where).toBeGreaterThanOrEqual(prevCol);
      else expect(c.startLine, where).toBeGreaterThan(prevLine);
      const line = lines[c.startLine - 1]!;
      expect(c.text, where).toBe(line.slice(c.startCol, c.endCol));
      const mask = covered.get(c.startLine) ?? new Array<boolean>(line.length).fill(false);
      for (let i = c.startCol; i < c.endCol!; i++) mask[i] = true;
      covered.set(c.startLine, mask);
      prevCol = c.endCol!;
    }
    prevLine = c.endLine;
  }
  lines.forEach((l, i) => {
    const n = i + 1;
    if (covered.has(n)) {
      expect(whole[n], `line ${n} both whole and in pieces`).toBe(0);
      const mask = covered.get(n)!;
      for (let k = 0; k < l.length; k++) if (!/\s/.test(l[k]!)) expect(mask[k], `line ${n} column ${k} covered`).toBe(true);
    } else if (l.trim() !== "") {
      expect(whole[n], `line ${n} in exactly one chunk`).toBe(1);
    }
  });
  return chunks.map((c) => (c.startCol === undefined ? [c.startLine, c.endLine] : [c.startLine, c.endLine, c.startCol]));
}

/** About `bytes` characters of minified JavaScript on one line. */
function minified(bytes: number): string {
  let js = "";
  for (let i = 0; js.length < bytes; i++) js += `function f${i}(a,b){var c=a+b;return c*${i}}var v${i}=f${i}(1,2),w${i}={k:"${i}",l:[${i},2]};`;
  return `!function(){"use strict";${js}}();`;
}

describe("over-long lines", () => {
  it("a 100 KB minified JS line splits into pieces within maxChars that tile the line", async () => {
    const bundle = minified(100_000);
    const src = `${bundle}\n//# sourceMappingURL=bundle.min.js.map\n`;
    const chunks = await chunkFile("dist/bundle.min.js", src);
    const shape = check(src, chunks, DEFAULT_LIMITS);
    const pieces = chunks.filter((c) => c.startLine === 1);
    expect(pieces.length).toBeGreaterThanOrEqual(Math.ceil(bundle.length / 1500));
    expect(pieces.length).toBeLessThanOrEqual(Math.ceil(bundle.length / 750) + 1); // cuts in the window's second half
    expect(pieces.map((c) => c.text).join("")).toBe(bundle);
    expect(pieces[0]!.startCol).toBe(0);
    expect(pieces[pieces.length - 1]!.endCol).toBe(bundle.length);
    // Cuts land after a statement end ("}" or ";", with "," / ")" after it) when one is in reach.
    for (const p of pieces.slice(0, -1)) expect(p.text).toMatch(/[;}][,;)\]]*$/);
    expect(shape[shape.length - 1]).toEqual([2, 2]); // the next line is an ordinary chunk
  });

  it("one-line JSON (line-window fallback) and long lines in text and markdown stay within maxChars", async () => {
    const json = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item ${i}` })));
    expect(chunkerFor("data.json")).toBe("lines");
    const jc = await chunkFile("data.json", json);
    check(json, jc, DEFAULT_LIMITS);
    expect(jc.length).toBeGreaterThan(json.length / 1500);
    const prose = "word ".repeat(1000).trim();
    check(prose, await chunkFile("notes.txt", prose), DEFAULT_LIMITS);
    const md = `# Notes\n\n${prose}\n`;
    check(md, await chunkFile("notes.md", md), DEFAULT_LIMITS);
  });

  it("a markdown fence over maxLines stays whole, but over maxChars it splits; front matter too", () => {
    const limits = { maxLines: 5, maxChars: 200 };
    const small = ["```", "a", "b", "c", "d", "e", "f", "```"].join("\n");
    expect(check(small, chunkMarkdown(small, limits), limits)).toEqual([[1, 8]]);
    const big = ["```js", ...Array.from({ length: 20 }, (_, i) => `const value${i} = compute(${i});`), "```"].join("\n");
    const fm = ["---", ...Array.from({ length: 20 }, (_, i) => `key${i}: ${"v".repeat(20)}`), "---", "body"].join("\n");
    expect(check(big, chunkMarkdown(big, limits), limits).length).toBeGreaterThan(1);
    expect(check(fm, chunkMarkdown(fm, limits), limits).length).toBeGreaterThan(2);
  });

  it("line windows split when their text is over maxChars", () => {
    const text = Array.from({ length: 10 }, (_, i) => `${i} ${"x".repeat(60)}`).join("\n");
    const chunks = chunkLines(text, 30, 200);
    expect(chunks.map((c) => [c.startLine, c.endLine])).toEqual([[1, 3], [4, 6], [7, 9], [10, 10]]);
    expect(chunkLines("x".repeat(450), 30, 200).map((c) => [c.startCol, c.endCol])).toEqual([[0, 200], [200, 400], [400, 450]]);
  });

  it("splitLongLine cuts at sentence ends, then spaces, never inside a surrogate pair", () => {
    const cut = (line: string, max: number) => splitLongLine(line, max).map(([a, b]) => line.slice(a, b));
    expect(cut("One two three. Four five six. Seven eight", 20)).toEqual(["One two three. ", "Four five six. ", "Seven eight"]);
    expect(cut("alpha beta gamma delta epsilon", 12)).toEqual(["alpha beta ", "gamma delta ", "epsilon"]);
    expect(cut("これは文です。「引用です。」次の文です。", 10)).toEqual(["これは文です。", "「引用です。」", "次の文です。"]);
    const emoji = "😀".repeat(5); // 10 UTF-16 code units
    expect(cut(emoji, 3)).toEqual(["😀", "😀", "😀", "😀", "😀"]);
    expect(cut("", 10)).toEqual([]);
  });
});

// Random files: lines drawn from per-kind pools plus long lines of several shapes and blank runs.
const POOLS: Record<string, string[]> = {
  "x.ts": [
    "export type Id = string;", "import { a } from \"a\";", "export function f(x: number): number {", "  return x + 1;", "}",
    "class C {", "  m(): void {", "    this.x = 1;", "  }", "const k = [1, 2, 3];", "/** Doc. */", "  if (x) {", "});",
  ],
  "x.py": ["import os", "def f(x):", "    return x", "class A:", "    def m(self):", "        pass", "@decorator", "x = 1", "    if x:", "        y = 2"],
  "x.md": ["# Title", "## Section", "Some prose here.", "```", "code()", "---", "- item", "Setext", "===", "> quote"],
  "x.txt": ["A sentence.", "Another line of prose", "検索エンジンは文書を索引する。"],
  "x.json": ["{", "  \"a\": 1,", "  \"b\": [1, 2],", "}"],
};

function randomLong(random: () => number): string {
  const n = 50 + Math.floor(random() * 4000);
  switch (Math.floor(random() * 5)) {
    case 0:
      return minified(n);
    case 1:
      return "検索エンジンは文書を索引する。".repeat(Math.ceil(n / 15));
    case 2:
      return "x".repeat(n);
    case 3:
      return "  " + "word ".repeat(Math.ceil(n / 5));
    default:
      return "😀a".repeat(Math.ceil(n / 3));
  }
}

function randomFile(random: () => number, pool: string[]): string {
  const lines: string[] = [];
  const count = Math.floor(random() * 120);
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.15) lines.push("");
    else if (r < 0.2) lines.push(randomLong(random));
    else if (r < 0.22) lines.push("   ");
    else lines.push(pool[Math.floor(random() * pool.length)]!);
  }
  return lines.join(random() < 0.5 ? "\n" : "\r\n") + (random() < 0.5 ? "\n" : "");
}

describe("chunk invariants over random files", () => {
  for (const path of Object.keys(POOLS)) {
    it(`${path} (${chunkerFor(path)}): within maxChars, every non-blank line covered once, in order`, async () => {
      const random = rng(path.length * 7919 + path.charCodeAt(2));
      for (let round = 0; round < 40; round++) {
        const text = randomFile(random, POOLS[path]!);
        const limits = { maxLines: 2 + Math.floor(random() * 60), maxChars: 20 + Math.floor(random() * 1500) };
        check(text, await chunkFile(path, text, limits), limits);
      }
    });
  }
});
