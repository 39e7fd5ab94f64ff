// A backbone adapter: the retrieval-trained change to USE-Lite's weights, shipped beside the SAE
// head (`backbone-lora.json`, written by train/py/train_backbone.py). LoRA tensors are merged
// into the TF.js weights before conversion (W + A·B; the trainer folds alpha/rank into B);
// "replace" tensors (biases, LayerNorm) take the place of the original. Every name and shape is
// checked against the source weights, so an adapter for another model fails loudly.
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { TfjsTensor } from "./tfjs-weights.js";

export const BACKBONE_ADAPTER_FILE = "backbone-lora.json";
export const BACKBONE_ADAPTER_FORMAT = 1;

const Tensor = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("lora"), shape: z.tuple([z.number().int().positive(), z.number().int().positive()]), a: z.string(), b: z.string() }),
  z.object({ kind: z.literal("replace"), shape: z.array(z.number().int().positive()), value: z.string() }),
]);
const Adapter = z.object({
  format: z.literal(BACKBONE_ADAPTER_FORMAT),
  rank: z.number().int().positive(),
  tensors: z.record(z.string(), Tensor),
  training: z.record(z.string(), z.unknown()).optional(),
});
export type BackboneAdapter = z.infer<typeof Adapter>;

function floats(s: string, count: number, what: string): Float32Array {
  const b = Buffer.from(s, "base64");
  if (b.byteLength !== count * 4) throw new Error(`${what}: ${b.byteLength / 4} floats, expected ${count}`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The adapter in `dir`, or undefined when the folder has none. */
export async function readBackboneAdapter(dir: string): Promise<BackboneAdapter | undefined> {
  const path = join(dir, BACKBONE_ADAPTER_FILE);
  if (!existsSync(path)) return undefined;
  const parsed = Adapter.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) throw new Error(`${path} is not a backbone adapter (format ${BACKBONE_ADAPTER_FORMAT}): ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** `weights` with the adapter applied (changed tensors are copies; the input is not modified). */
export function applyBackboneAdapter(weights: Map<string, TfjsTensor>, adapter: BackboneAdapter | undefined): Map<string, TfjsTensor> {
  if (!adapter) return weights;
  const out = new Map(weights);
  for (const [name, t] of Object.entries(adapter.tensors)) {
    const base = weights.get(name);
    if (!base || !(base.data instanceof Float32Array)) throw new Error(`backbone adapter names ${name}, which the model does not have as float32`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== base.data.length) throw new Error(`backbone adapter: ${name} has ${count} values, the model ${base.data.length}`);
    if (t.kind === "replace") {
      out.set(name, { shape: base.shape, data: floats(t.value, count, name) });
      continue;
    }
    const [rows, cols] = t.shape;
    const r = adapter.rank;
    const a = floats(t.a, rows * r, `${name} A`);
    const b = floats(t.b, r * cols, `${name} B`);
    const merged = new Float32Array(base.data);
    for (let i = 0; i < rows; i++) {
      for (let k = 0; k < r; k++) {
        const aik = a[i * r + k]!;
        if (aik === 0) continue;
        const row = i * cols;
        const brow = k * cols;
        for (let j = 0; j < cols; j++) merged[row + j]! += aik * b[brow + j]!;
      }
    }
    out.set(name, { shape: base.shape, data: merged });
  }
  return out;
}
