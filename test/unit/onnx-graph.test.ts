// Tier: integration (real onnxruntime-node). Graphs written by Loupe's protobuf encoder load and
// compute what they say, including attributes, int64 constants and dynamic dimensions.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { DataType, GraphBuilder } from "../../daemon/src/model/onnx/graph.js";

describe("GraphBuilder", () => {
  it("writes a model that onnxruntime runs", async () => {
    const g = new GraphBuilder("test");
    const x = g.input("x", DataType.FLOAT, ["batch", 3]);
    const w = g.constant("w", Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
    const y = g.op("Relu", [g.op("Add", [g.op("MatMul", [x, w]), g.scalar("bias", -10)])]);
    const summed = g.op("ReduceSum", [y, g.ints("axes", [1])], { keepdims: 0 });
    g.output("y", y, DataType.FLOAT, ["batch", 2]);
    g.output("sum", summed, DataType.FLOAT, ["batch"]);
    const path = join(await mkdtemp(join(tmpdir(), "loupe-onnx-")), "t.onnx");
    await writeFile(path, g.serialize(17, "test"));
    const session = await ort.InferenceSession.create(path);
    const out = await session.run({ x: new ort.Tensor("float32", Float32Array.from([1, 1, 1, 2, 2, 2]), [2, 3]) });
    // row 1: [9, 12] - 10 → relu [0, 2]; row 2: [18, 24] - 10 → [8, 14]
    expect(Array.from(out.y!.data as Float32Array)).toEqual([0, 2, 8, 14]);
    expect(Array.from(out.sum!.data as Float32Array)).toEqual([2, 22]);
  });
  it("refuses duplicate names and mismatched constant shapes", () => {
    const g = new GraphBuilder("test");
    g.scalar("a", 1);
    expect(() => g.scalar("a", 2)).toThrow(/duplicate/);
    expect(() => g.constant("b", Float32Array.of(1, 2), [3])).toThrow(/shape/);
  });
});
