// Published SAE weights, read into the encoder half `convert/sparse-head.ts` fuses (the decoder
// is never needed for retrieval). Three layouts, as their releases document them:
// - Loupe's own (`sae.json` + `sae-encoder.f16`, sae-format.ts): ReLU.
// - Gemma Scope (`params.npz`: W_enc [d_model, d_sae], b_enc, threshold [d_sae], W_dec, b_dec):
//   JumpReLU on pre = x·W_enc + b_enc, no input centring or scaling.
// - Llama Scope (`hyperparams.json` + `checkpoints/final.safetensors`: encoder.weight
//   [d_sae, d_model], encoder.bias; `act_fn` jumprelu with a scalar `jump_relu_threshold`, or
//   topk with `top_k`; `norm_activation` "dataset-wise" scales inputs by
//   √d_model / dataset_average_activation_norm.in before the encoder).
// The zip container of .npz is read by fflate; .npy headers and safetensors' JSON header are
// small fixed formats read here (no maintained Node library reads them from a local file).
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { unzipSync } from "fflate";
import { fromHalf } from "./sae-format.js";
import { readSaeEncoder, SAE_META_FILE, type SaeEncoder } from "./sae-format.js";

export const SAE_FORMATS = ["loupe", "gemma-scope", "llama-scope"] as const;
export type SaeFormat = (typeof SAE_FORMATS)[number];

export interface ImportedSae {
  sae: SaeEncoder;
  format: SaeFormat;
  /** The layer the SAE was trained on, where its files say (Llama Scope's hook point, a Gemma Scope path's layer_N). */
  layer: number | null;
  /** What the pack's manifest and `loupe pack` say about it. */
  description: string;
}

/** A named array of numbers with its shape, as float32. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

function bf16(bits: number): number {
  const u = new Uint32Array([bits << 16]);
  return new Float32Array(u.buffer)[0]!;
}

function toFloat32(bytes: Uint8Array, kind: "f32" | "f16" | "bf16" | "f64", count: number, what: string): Float32Array {
  const size = { f32: 4, f16: 2, bf16: 2, f64: 8 }[kind];
  if (bytes.byteLength !== count * size) throw new Error(`${what}: ${bytes.byteLength} bytes for ${count} ${kind} values`);
  const copy = new Uint8Array(bytes); // aligned
  if (kind === "f32") return new Float32Array(copy.buffer);
  if (kind === "f64") return Float32Array.from(new Float64Array(copy.buffer));
  const halves = new Uint16Array(copy.buffer);
  return Float32Array.from(halves, kind === "f16" ? fromHalf : bf16);
}

/** One .npy array (format 1–3, little-endian float16/32/64, C order). */
export function parseNpy(bytes: Uint8Array, what: string): NamedArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error(`${what} is not a .npy array`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${what}: unreadable .npy header ${header.trim()}`);
  if (fortran === "True") throw new Error(`${what}: Fortran-order arrays are not supported`);
  const kinds: Record<string, "f32" | "f16" | "f64"> = { "<f4": "f32", "<f2": "f16", "<f8": "f64" };
  const kind = kinds[descr];
  if (!kind) throw new Error(`${what}: element type ${descr} is not a little-endian float`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  return { shape, data: toFloat32(bytes.subarray(start + headerLength), kind, count, what) };
}

/** The arrays of an .npz file (a zip of .npy files), by name without the extension. */
export function parseNpz(bytes: Uint8Array, what: string): Map<string, NamedArray> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new Error(`${what} is not an .npz archive (${(e as Error).message})`);
  }
  const out = new Map<string, NamedArray>();
  for (const [name, data] of Object.entries(entries)) if (name.endsWith(".npy")) out.set(name.slice(0, -4), parseNpy(data, `${what}:${name}`));
  return out;
}

/** The tensors of a .safetensors file (F32, F16, BF16, F64), as float32. */
export function parseSafetensors(bytes: Uint8Array, what: string): Map<string, NamedArray> {
  if (bytes.byteLength < 8) throw new Error(`${what} is not a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) throw new Error(`${what} is not a safetensors file (header of ${headerLength} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new Error(`${what} is not a safetensors file (its header is not JSON)`);
  }
  const data = bytes.subarray(8 + headerLength);
  const kinds: Record<string, "f32" | "f16" | "bf16" | "f64"> = { F32: "f32", F16: "f16", BF16: "bf16", F64: "f64" };
  const out = new Map<string, NamedArray>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const kind = kinds[t.dtype];
    if (!kind) continue; // integer tensors (step counters) are not weights the encoder needs
    const count = t.shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape: t.shape, data: toFloat32(data.subarray(t.data_offsets[0], t.data_offsets[1]), kind, count, `${what}:${name}`) });
  }
  return out;
}

function need(arrays: Map<string, NamedArray>, name: string, what: string, shape: number[]): Float32Array {
  const a = arrays.get(name);
  if (!a) throw new Error(`${what} has no ${name} (it has ${[...arrays.keys()].join(", ") || "nothing"})`);
  if (a.shape.length !== shape.length || a.shape.some((d, i) => d !== shape[i])) throw new Error(`${what}: ${name} has shape [${a.shape}], expected [${shape}]`);
  return a.data;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/** Which layout `path` is: a Loupe SAE folder, an .npz, or a Llama Scope folder or safetensors file. */
export function detectSaeFormat(path: string): SaeFormat {
  if (!existsSync(path)) throw new Error(`no SAE at ${path}`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, SAE_META_FILE))) return "loupe";
    if (existsSync(join(path, "hyperparams.json"))) return "llama-scope";
    if (existsSync(join(path, "params.npz"))) return "gemma-scope";
    throw new Error(`${path} holds no SAE Loupe knows: expected sae.json (Loupe), params.npz (Gemma Scope) or hyperparams.json (Llama Scope)`);
  }
  if (path.endsWith(".npz")) return "gemma-scope";
  if (path.endsWith(".safetensors")) return "llama-scope";
  throw new Error(`${path}: give a Gemma Scope params.npz, a Llama Scope folder or .safetensors file, or a Loupe SAE folder (--sae-format says which)`);
}

export async function importSae(path: string, format: SaeFormat = detectSaeFormat(path)): Promise<ImportedSae> {
  if (format === "loupe") {
    const sae = await readSaeEncoder(path);
    return { sae, format, layer: sae.meta.layer, description: `Loupe SAE (${sae.meta.width} latents, ReLU)` };
  }
  if (format === "gemma-scope") return importGemmaScope(statSync(path).isDirectory() ? join(path, "params.npz") : path);
  return importLlamaScope(path);
}

async function importGemmaScope(file: string): Promise<ImportedSae> {
  const arrays = parseNpz(await readFile(file), file);
  const w = arrays.get("W_enc");
  if (!w || w.shape.length !== 2) throw new Error(`${file} has no 2-D W_enc; is it a Gemma Scope params.npz?`);
  const [dim, width] = w.shape as [number, number];
  const bEnc = need(arrays, "b_enc", file, [width]);
  const threshold = need(arrays, "threshold", file, [width]);
  const layer = /layer_(\d+)/.exec(file)?.[1];
  return {
    sae: { meta: { layer: layer ? Number(layer) : 0, width, dim, scale: 1 }, wEnc: transpose(w.data, dim, width), bEnc, bPre: new Float32Array(dim), activation: { kind: "jumprelu", threshold } },
    format: "gemma-scope",
    layer: layer ? Number(layer) : null,
    description: `Gemma Scope JumpReLU SAE (${width} latents over ${dim} dims) from ${basename(dirname(file))}/${basename(file)}`,
  };
}

interface LlamaScopeHyperparams {
  d_model: number;
  d_sae: number;
  hook_point_in?: string;
  act_fn?: string;
  jump_relu_threshold?: number;
  top_k?: number;
  norm_activation?: string;
  dataset_average_activation_norm?: { in: number; out?: number };
  apply_decoder_bias_to_pre_encoder?: boolean;
}

async function importLlamaScope(path: string): Promise<ImportedSae> {
  const isDir = statSync(path).isDirectory();
  const weightsFile = isDir ? join(path, "checkpoints", "final.safetensors") : path;
  const paramsCandidates = isDir ? [join(path, "hyperparams.json")] : [join(dirname(path), "hyperparams.json"), join(dirname(dirname(path)), "hyperparams.json")];
  const paramsFile = paramsCandidates.find((p) => existsSync(p));
  if (!paramsFile) throw new Error(`no hyperparams.json beside ${weightsFile} (Llama Scope ships it in the SAE's folder)`);
  const hp = JSON.parse(await readFile(paramsFile, "utf8")) as LlamaScopeHyperparams;
  const arrays = parseSafetensors(await readFile(weightsFile), weightsFile);
  const { d_model: dim, d_sae: width } = hp;
  const wEnc = need(arrays, "encoder.weight", weightsFile, [width, dim]);
  const bEnc = need(arrays, "encoder.bias", weightsFile, [width]);
  const bPre = hp.apply_decoder_bias_to_pre_encoder ? need(arrays, "decoder.bias", weightsFile, [dim]) : new Float32Array(dim);
  let scale = 1;
  const norm = hp.norm_activation ?? "none";
  if (norm === "dataset-wise") {
    const average = hp.dataset_average_activation_norm?.in;
    if (!average || !(average > 0)) throw new Error(`${paramsFile}: norm_activation is dataset-wise but dataset_average_activation_norm.in is missing`);
    scale = Math.sqrt(dim) / average;
  } else if (norm !== "none") {
    throw new Error(`${paramsFile}: norm_activation "${norm}" is not supported (Loupe folds only a dataset-wise scale into the head)`);
  }
  const act = hp.act_fn ?? "relu";
  let activation: SaeEncoder["activation"];
  if (act === "jumprelu") activation = { kind: "jumprelu", threshold: new Float32Array(width).fill(hp.jump_relu_threshold ?? 0) };
  else if (act === "topk") {
    if (!hp.top_k || hp.top_k < 1 || hp.top_k > width) throw new Error(`${paramsFile}: act_fn topk needs top_k in 1–${width}`);
    activation = { kind: "topk", k: hp.top_k };
  } else if (act === "relu") activation = { kind: "relu" };
  else throw new Error(`${paramsFile}: act_fn "${act}" is not supported (relu, jumprelu, topk)`);
  const layer = /blocks\.(\d+)\./.exec(hp.hook_point_in ?? "")?.[1];
  return {
    sae: { meta: { layer: layer ? Number(layer) : 0, width, dim, scale }, wEnc, bEnc, bPre, activation },
    format: "llama-scope",
    layer: layer ? Number(layer) : null,
    description: `Llama Scope ${act} SAE (${width} latents over ${dim} dims${hp.hook_point_in ? `, ${hp.hook_point_in}` : ""})`,
  };
}
