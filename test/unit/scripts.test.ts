// Tier: unit (pure). Which scripts a text is written in, which a vocabulary covers, and the share
// of a query the encoder can read (the latent channel's trust in fusion).
import { describe, expect, it } from "vitest";
import { readableShare, scriptCounts, scriptOf, vocabularyScripts } from "../../daemon/src/analysis/scripts.js";

describe("scripts", () => {
  it("names the script of a letter, and none for digits, spaces and symbols", () => {
    expect(["a", "É", "ж", "λ", "ع", "क", "ก", "中", "か", "カ", "한", "1", " ", "_"].map(scriptOf)).toEqual(
      ["Latin", "Latin", "Cyrillic", "Greek", "Arabic", "Devanagari", "Thai", "Han", "Hiragana", "Katakana", "Hangul", null, null, null],
    );
    expect(scriptCounts("Berlin ist 1237 gegründet, 柏林")).toEqual(new Map([["Latin", 18], ["Han", 2]]));
  });

  it("finds the scripts a vocabulary covers, ignoring a handful of stray pieces", () => {
    const pieces = [...Array.from({ length: 500 }, (_, i) => `▁word${i}`), "ж", "ع"];
    expect(vocabularyScripts(pieces)).toEqual(new Set(["Latin"]));
    expect(vocabularyScripts([...pieces, ...Array.from({ length: 300 }, (_, i) => `数据${i}`)])).toEqual(new Set(["Latin", "Han"]));
  });

  it("gives the share of a text's letters in readable scripts, 1 for a text without letters", () => {
    const latin = new Set(["Latin"]);
    expect(readableShare("where is the retry loop", latin)).toBe(1);
    expect(readableShare("重试 retry", latin)).toBeCloseTo(5 / 7);
    expect(readableShare("柏林墙是哪一年建的", latin)).toBe(0);
    expect(readableShare("1989 — ?", latin)).toBe(1);
  });
});
