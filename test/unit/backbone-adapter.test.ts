// Tier: unit (in-memory weights, no model). The backbone adapter merge: W + A·B for LoRA
// tensors, replacement for the rest, and loud failures for adapters that do not fit the model.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyBackboneAdapter, BACKBONE_ADAPTER_FILE, readBackboneAdapter, type BackboneAdapter } from "../../daemon/src/model/backbone-adapter.js";
import type { TfjsTensor } from "../../daemon/src/model/tfjs-weights.js";

const b64 = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer).toString("base64");

function weights(): Map<string, TfjsTensor> {
  return new Map<string, TfjsTensor>([
    // A 2×3 matrix stored as TF.js does for conv kernels, [1, 1, in, out].
    ["w", { shape: [1, 1, 2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
    ["bias", { shape: [3], data: Float32Array.of(0, 0, 0) }],
    ["ids", { shape: [2], data: Int32Array.of(1, 2) }],
  ]);
}

describe("applyBackboneAdapter", () => {
  it("merges W + A·B and replaces the other tensors, leaving the input untouched", () => {
    const base = weights();
    // A = [[1, 0], [0, 2]] (2×2), B = [[1, 1, 1], [0, 0.5, 1]] (2×3): A·B = [[1, 1, 1], [0, 1, 2]].
    const adapter: BackboneAdapter = {
      format: 1,
      rank: 2,
      tensors: {
        w: { kind: "lora", shape: [2, 3], a: b64([1, 0, 0, 2]), b: b64([1, 1, 1, 0, 0.5, 1]) },
        bias: { kind: "replace", shape: [3], value: b64([0.5, -1, 2]) },
      },
    };
    const out = applyBackboneAdapter(base, adapter);
    expect(Array.from(out.get("w")!.data)).toEqual([2, 3, 4, 4, 6, 8]);
    expect(out.get("w")!.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(out.get("bias")!.data)).toEqual([0.5, -1, 2]);
    expect(Array.from(base.get("w")!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.get("ids")).toBe(base.get("ids"));
  });

  it("returns the weights as they are without an adapter", () => {
    const base = weights();
    expect(applyBackboneAdapter(base, undefined)).toBe(base);
  });

  it("refuses tensors the model does not have, wrong sizes, and non-float targets", () => {
    const lora = (shape: [number, number]) => ({ kind: "lora" as const, shape, a: b64(new Array(shape[0]).fill(0)), b: b64(new Array(shape[1]).fill(0)) });
    expect(() => applyBackboneAdapter(weights(), { format: 1, rank: 1, tensors: { nope: lora([2, 3]) } })).toThrow(/does not have/);
    expect(() => applyBackboneAdapter(weights(), { format: 1, rank: 1, tensors: { w: lora([3, 3]) } })).toThrow(/has 9 values, the model 6/);
    expect(() => applyBackboneAdapter(weights(), { format: 1, rank: 1, tensors: { ids: { kind: "replace", shape: [2], value: b64([1, 2]) } } })).toThrow(/float32/);
    expect(() => applyBackboneAdapter(weights(), { format: 1, rank: 2, tensors: { w: lora([2, 3]) } })).toThrow(/A: 2 floats, expected 4/);
  });
});

describe("readBackboneAdapter", () => {
  it("is undefined without the file and rejects a malformed one by path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loupe-adapter-"));
    expect(await readBackboneAdapter(dir)).toBeUndefined();
    writeFileSync(join(dir, BACKBONE_ADAPTER_FILE), JSON.stringify({ format: 2, rank: 1, tensors: {} }));
    await expect(readBackboneAdapter(dir)).rejects.toThrow(BACKBONE_ADAPTER_FILE);
  });
});
