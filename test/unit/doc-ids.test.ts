// Tier: unit. The on-disk coding of doc ids (varint gaps per term) against plain arrays.
import { describe, expect, it } from "vitest";
import { decodeDocIds, encodeDocIds } from "../../daemon/src/index/doc-ids.js";

function roundTrip(lists: number[][], docs: number): { bytes: Uint8Array; out: Uint32Array; error: string | null } {
  const termStart = new Uint32Array(lists.length + 1);
  lists.forEach((l, t) => (termStart[t + 1] = termStart[t]! + l.length));
  const ids = Uint32Array.from(lists.flat());
  const bytes = encodeDocIds(ids, termStart, lists.length);
  const out = new Uint32Array(ids.length);
  return { bytes, out, error: decodeDocIds(bytes, termStart, lists.length, docs, out) };
}

describe("doc id coding", () => {
  it("round-trips lists with gaps of every varint width, empty lists and id 0", () => {
    const lists = [[0, 1, 2, 127, 128, 16_511, 16_512, 2_113_663, 2_113_664, 268_435_455, 4_000_000_000], [], [5], [0], [70_000, 70_001]];
    const { out, error } = roundTrip(lists, 4_000_000_001);
    expect(error).toBeNull();
    expect([...out]).toEqual(lists.flat());
  });

  it("spends one byte per gap under 128, so dense lists shrink to about half of u16 ids", () => {
    const list = Array.from({ length: 1000 }, (_, i) => i * 3);
    expect(roundTrip([list], 3000).bytes.length).toBe(1000);
    expect(roundTrip([[0, 200]], 300).bytes.length).toBe(3);
  });

  it("decodes into u16 arrays for small segments", () => {
    const termStart = Uint32Array.from([0, 3]);
    const bytes = encodeDocIds([1, 300, 65_535], termStart, 1);
    const out = new Uint16Array(3);
    expect(decodeDocIds(bytes, termStart, 1, 65_536, out)).toBeNull();
    expect([...out]).toEqual([1, 300, 65_535]);
  });

  it("refuses ids that are not strictly increasing when writing", () => {
    expect(() => encodeDocIds([3, 3], Uint32Array.from([0, 2]), 1)).toThrow(/strictly increasing/);
    expect(() => encodeDocIds([3, 2], Uint32Array.from([0, 2]), 1)).toThrow(/strictly increasing/);
  });

  it("names what is wrong with damaged bytes instead of returning wrong ids", () => {
    const termStart = Uint32Array.from([0, 2]);
    const out = new Uint32Array(2);
    expect(decodeDocIds(Uint8Array.from([1, 0x85]), termStart, 1, 100, out)).toMatch(/past their section/);
    expect(decodeDocIds(Uint8Array.from([1, 2, 3]), termStart, 1, 100, out)).toMatch(/trailing bytes/);
    expect(decodeDocIds(Uint8Array.from([1, 0]), termStart, 1, 100, out)).toMatch(/repeat/);
    expect(decodeDocIds(Uint8Array.from([1, 99]), termStart, 1, 100, out)).toMatch(/past the segment's end/);
    expect(decodeDocIds(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Uint32Array.from([0, 1]), 1, 100, out)).toMatch(/past their section/);
  });
});
