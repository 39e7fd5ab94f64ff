// Tier: unit (files in a temp folder, no model). The SAE readers: .npy headers and element types,
// .npz archives, safetensors (BF16 and F16 too), the layouts' detection, and the errors a user
// meets with a wrong or damaged file.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { toHalf } from "../../daemon/src/model/sae-format.js";
import { detectSaeFormat, importSae, parseNpy, parseNpz, parseSafetensors } from "../../daemon/src/model/sae-import.js";
import { randomSae, writeGemmaScope, writeLlamaScope } from "../support/tiny-encoders.js";

function npyBytes(descr: string, shape: number[], payload: Uint8Array, major = 1): Uint8Array {
  const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }\n`;
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + header.length + payload.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  if (major === 1) new DataView(out.buffer).setUint16(8, header.length, true);
  else new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(payload, pre + header.length);
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "loupe-sae-import-"));
});

describe(".npy and .npz", () => {
  it("reads float16/32/64 arrays in format 1 and 2 headers", () => {
    const f32 = Float32Array.of(1.5, -2, 3.25, 0);
    expect(Array.from(parseNpy(npyBytes("<f4", [2, 2], new Uint8Array(f32.buffer)), "x").data)).toEqual([1.5, -2, 3.25, 0]);
    const f16 = Uint16Array.from([0.5, -1, 2], (v) => toHalf(v));
    expect(parseNpy(npyBytes("<f2", [3], new Uint8Array(f16.buffer), 2), "x")).toEqual({ shape: [3], data: Float32Array.of(0.5, -1, 2) });
    const f64 = Float64Array.of(0.25, 8);
    expect(Array.from(parseNpy(npyBytes("<f8", [2], new Uint8Array(f64.buffer)), "x").data)).toEqual([0.25, 8]);
  });

  it("refuses what it cannot read, naming the array", () => {
    expect(() => parseNpy(new Uint8Array(16), "w.npy")).toThrow(/w\.npy is not a \.npy array/);
    expect(() => parseNpy(npyBytes("<i4", [1], new Uint8Array(4)), "w.npy")).toThrow(/element type <i4/);
    expect(() => parseNpy(npyBytes("<f4", [3], new Uint8Array(8)), "w.npy")).toThrow(/8 bytes for 3 f32 values/);
    expect(() => parseNpz(new Uint8Array([1, 2, 3]), "p.npz")).toThrow(/p\.npz is not an \.npz archive/);
  });

  it("names the array a Gemma Scope file lacks or has in the wrong shape", async () => {
    const file = join(dir, "broken.npz");
    const w = new Float32Array(8 * 4);
    await writeFile(file, zipSync({ "W_enc.npy": npyBytes("<f4", [8, 4], new Uint8Array(w.buffer)), "b_enc.npy": npyBytes("<f4", [3], new Uint8Array(12)) }));
    await expect(importSae(file)).rejects.toThrow(/b_enc has shape \[3\], expected \[4\]/);
  });
});

describe("safetensors", () => {
  it("reads BF16, F16 and F32 tensors and skips integer ones", () => {
    const header = JSON.stringify({ a: { dtype: "BF16", shape: [2], data_offsets: [0, 4] }, b: { dtype: "F16", shape: [1], data_offsets: [4, 6] }, c: { dtype: "F32", shape: [1], data_offsets: [6, 10] }, n: { dtype: "I64", shape: [1], data_offsets: [10, 18] } });
    const bytes = new Uint8Array(8 + header.length + 18);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    const at = 8 + header.length;
    view.setUint16(at, 0x3fc0, true); // bf16 1.5
    view.setUint16(at + 2, 0xc000, true); // bf16 -2
    view.setUint16(at + 4, toHalf(0.75), true);
    view.setFloat32(at + 6, 4.5, true);
    const t = parseSafetensors(bytes, "s");
    expect(Array.from(t.get("a")!.data)).toEqual([1.5, -2]);
    expect(Array.from(t.get("b")!.data)).toEqual([0.75]);
    expect(Array.from(t.get("c")!.data)).toEqual([4.5]);
    expect(t.has("n")).toBe(false);
    expect(() => parseSafetensors(new Uint8Array(4), "s")).toThrow(/not a safetensors file/);
  });
});

describe("layouts", () => {
  it("detects each layout and reads the layer and activation it documents", async () => {
    const gemma = await writeGemmaScope(join(dir, "gs", "layer_9", "width_16k"), randomSae(4, 6, 1));
    const llama = join(dir, "ls");
    await writeLlamaScope(llama, randomSae(4, 6, 2), { act_fn: "topk", top_k: 2, averageNorm: 2, layer: 5 });
    expect(detectSaeFormat(gemma)).toBe("gemma-scope");
    expect(detectSaeFormat(join(dir, "gs", "layer_9", "width_16k"))).toBe("gemma-scope");
    expect(detectSaeFormat(llama)).toBe("llama-scope");
    expect(detectSaeFormat(join(llama, "checkpoints", "final.safetensors"))).toBe("llama-scope");
    const g = await importSae(gemma);
    expect(g).toMatchObject({ format: "gemma-scope", layer: 9, sae: { meta: { width: 6, dim: 4, scale: 1 }, activation: { kind: "jumprelu" } } });
    const l = await importSae(join(llama, "checkpoints", "final.safetensors"));
    expect(l).toMatchObject({ format: "llama-scope", layer: 5, sae: { meta: { width: 6, dim: 4, scale: 1 }, activation: { kind: "topk", k: 2 } } });
    expect(() => detectSaeFormat(join(dir, "nothing"))).toThrow(/no SAE at/);
  });

  it("refuses a Llama Scope normalisation or activation it cannot fold into the head", async () => {
    const d = join(dir, "ls-bad");
    await writeLlamaScope(d, randomSae(4, 6, 3), { act_fn: "jumprelu", jump_relu_threshold: 0.1, averageNorm: 2, layer: 1 });
    const hp = join(d, "hyperparams.json");
    const params = JSON.parse(await import("node:fs/promises").then((f) => f.readFile(hp, "utf8")));
    await writeFile(hp, JSON.stringify({ ...params, norm_activation: "token-wise" }));
    await expect(importSae(d)).rejects.toThrow(/norm_activation "token-wise" is not supported/);
    await writeFile(hp, JSON.stringify({ ...params, act_fn: "gelu" }));
    await expect(importSae(d)).rejects.toThrow(/act_fn "gelu" is not supported/);
    await mkdir(join(dir, "empty"), { recursive: true });
    expect(() => detectSaeFormat(join(dir, "empty"))).toThrow(/holds no SAE Loupe knows/);
  });
});
