// Tier: unit. Splitting token sequences into overlapping encoder windows.
import { describe, expect, it } from "vitest";
import { windows } from "../../daemon/src/model/tokenizer.js";

describe("windows", () => {
  it("keeps a short sequence whole and drops an empty one", () => {
    expect(windows([1, 2, 3], 4, 1)).toEqual([[1, 2, 3]]);
    expect(windows([], 4, 1)).toEqual([]);
  });
  it("covers every token, overlaps by the given amount and never exceeds the size", () => {
    for (let n = 1; n < 400; n += 7) {
      const ids = Array.from({ length: n }, (_, i) => i);
      const ws = windows(ids, 128, 32);
      expect(ws.every((w) => w.length >= 1 && w.length <= 128)).toBe(true);
      expect(new Set(ws.flat())).toEqual(new Set(ids));
      for (let i = 1; i < ws.length; i++) expect(ws[i]![0]).toBe(ws[i - 1]![0]! + 96);
      expect(ws.at(-1)!.at(-1)).toBe(n - 1);
    }
  });
  it("rejects impossible shapes", () => {
    expect(() => windows([1], 4, 4)).toThrow(/overlap/);
    expect(() => windows([1], 0, 0)).toThrow();
  });
});
