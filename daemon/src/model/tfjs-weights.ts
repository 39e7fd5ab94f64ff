// Reads the weights of a TF.js graph model (`model.json` + binary shards) into typed arrays.
// Only what Loupe's converters need: float32 and int32 tensors, no quantisation.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface TfjsTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface ModelJson {
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
}

export async function readTfjsWeights(dir: string): Promise<Map<string, TfjsTensor>> {
  const model = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as ModelJson;
  if (!Array.isArray(model.weightsManifest)) throw new Error(`${join(dir, "model.json")} has no weightsManifest`);
  const out = new Map<string, TfjsTensor>();
  for (const group of model.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => readFile(join(dir, p))));
    const buffer = Buffer.concat(shards);
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization) throw new Error(`weight ${w.name} is quantised; unsupported`);
      if (w.dtype !== "float32" && w.dtype !== "int32") throw new Error(`weight ${w.name} has dtype ${w.dtype}; unsupported`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const bytes = count * 4;
      if (offset + bytes > buffer.length) throw new Error(`weight shards end inside ${w.name}: truncated download?`);
      // Copy out so each tensor is 4-byte aligned and independent of the shard buffer.
      const slice = new Uint8Array(buffer.subarray(offset, offset + bytes));
      out.set(w.name, {
        shape: w.shape,
        data: w.dtype === "float32" ? new Float32Array(slice.buffer) : new Int32Array(slice.buffer),
      });
      offset += bytes;
    }
    if (offset !== buffer.length) throw new Error(`weight shards hold ${buffer.length - offset} bytes more than model.json lists`);
  }
  return out;
}
