// Tier: unit. The line-window fallback chunker.
import { describe, expect, it } from "vitest";
import { chunkLines } from "../../daemon/src/chunk/lines.js";

describe("chunkLines", () => {
  it("cuts fixed windows with 1-based inclusive line ranges", () => {
    const text = Array.from({ length: 7 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const chunks = chunkLines(text, 3);
    expect(chunks.map((c) => [c.startLine, c.endLine])).toEqual([[1, 3], [4, 6], [7, 7]]);
    expect(chunks[2]!.text).toBe("line 7");
  });
  it("skips blank windows and handles CRLF", () => {
    expect(chunkLines("a\r\nb\r\n\r\n\r\n", 2).map((c) => c.text)).toEqual(["a\nb"]);
    expect(chunkLines("")).toEqual([]);
  });
});
