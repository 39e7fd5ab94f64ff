// Tier: unit. Heading-aware markdown chunks and plain-text paragraphs: heading paths, front
// matter (its own chunk), fences never split and '#' inside them not a heading, long sections by
// paragraphs, CJK lines without breaks. Fixtures are inline strings.
import { describe, expect, it } from "vitest";
import { chunkFile, type SymbolChunk } from "../../daemon/src/chunk/index.js";
import { chunkMarkdown } from "../../daemon/src/chunk/markdown.js";
import { chunkText } from "../../daemon/src/chunk/text.js";

/** Ranges ascending (a line split by characters may repeat), every non-blank line covered. */
function check(text: string, chunks: SymbolChunk[]): Array<[number, number, string]> {
  const lines = text.replace(/\n$/, "").split(/\r?\n/);
  let prevEnd = 0;
  for (const c of chunks) {
    expect(c.startLine).toBeGreaterThanOrEqual(c.startLine === c.endLine && c.startLine === prevEnd ? prevEnd : prevEnd + 1);
    expect(lines.slice(c.startLine - 1, c.endLine).join("\n")).toContain(c.text);
    prevEnd = c.endLine;
  }
  lines.forEach((l, i) => {
    if (l.trim() !== "") expect(chunks.some((c) => c.startLine <= i + 1 && i + 1 <= c.endLine), `line ${i + 1}`).toBe(true);
  });
  return chunks.map((c) => [c.startLine, c.endLine, c.symbol]);
}

const MD = `---
title: Guide
tags: [a, b]
---
Intro before any heading.

# Guide

## Install

### Linux

Run the installer.

\`\`\`sh
# not a heading
make install
\`\`\`

## Use
Setext Title
============
Body.
`;

describe("chunkMarkdown", () => {
  it("heading paths, front matter as its own chunk, '#' inside fences is not a heading, setext", async () => {
    expect(check(MD, await chunkFile("docs/guide.md", MD))).toEqual([
      [1, 4, ""],
      [5, 5, ""],
      [7, 18, "Guide > Install > Linux"], // heading-only sections join the next one
      [20, 23, "Setext Title"],
    ]);
  });

  it("long sections split by paragraphs; a fence over the limits stays whole", () => {
    const para = (n: number) => Array.from({ length: 3 }, (_, i) => `Paragraph ${n} line ${i} ${"w ".repeat(20)}`).join("\n");
    const fence = ["```", ...Array.from({ length: 8 }, (_, i) => `# line ${i}`), "```"].join("\n");
    const md = ["# Long", "", para(1), "", para(2), "", fence, "", para(3)].join("\n");
    const chunks = chunkMarkdown(md, { maxLines: 6, maxChars: 1500 });
    expect(check(md, chunks)).toEqual([
      [1, 5, "Long"],
      [7, 9, "Long"],
      [11, 20, "Long"],
      [22, 24, "Long"],
    ]);
  });

  it("CJK notes: a long line without spaces splits by sentences, then characters", () => {
    const line = "検索エンジンは文書を索引する。".repeat(20) + "終わり";
    const md = `# 日本語\n\n${line}\n`;
    const chunks = chunkMarkdown(md, { maxLines: 60, maxChars: 100 });
    check(md, chunks);
    expect(chunks.every((c) => [...c.text].length <= 100)).toBe(true);
    expect(chunks.map((c) => c.text).join("")).toBe("# 日本語" + line);
    expect(new Set(chunks.map((c) => c.symbol))).toEqual(new Set(["日本語"]));
    const long = "字".repeat(250);
    expect(chunkText(long, { maxLines: 60, maxChars: 100 }).map((c) => [...c.text].length)).toEqual([100, 100, 50]);
  });

  it("plain text: paragraphs merged up to the limits", async () => {
    const txt = "one\ntwo\n\nthree\n\n\nfour\nfive\n";
    expect(check(txt, await chunkFile("a.txt", txt))).toEqual([[1, 8, ""]]);
    expect(check(txt, chunkText(txt, { maxLines: 4, maxChars: 1500 }))).toEqual([
      [1, 4, ""],
      [7, 8, ""],
    ]);
  });
});
