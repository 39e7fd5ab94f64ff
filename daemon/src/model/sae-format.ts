// The shipped SAE encoder: `sae.json` (shape, input scale, biases, training metrics) beside
// `sae-encoder.f16` (width × dim half floats, row j = latent j's encoder vector). Only the
// encoder ships: retrieval needs z = W_enc·(s·h − b_pre) + b_enc, not the decoder.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const SAE_FORMAT = 1;
export const SAE_META_FILE = "sae.json";
export const SAE_ENCODER_FILE = "sae-encoder.f16";

export interface SaeMeta {
  format: number;
  /** Which token states it reads (0 or 1 for USE-Lite). */
  layer: number;
  width: number;
  dim: number;
  /** Inputs are multiplied by this before b_pre is subtracted. */
  scale: number;
  /** base64 of little-endian float32. */
  bEnc: string;
  bPre: string;
  training: Record<string, unknown>;
}

/**
 * What turns z into activations: ReLU (Loupe's own SAEs), JumpReLU (z where z > θ_j, else 0:
 * Gemma Scope, Llama Scope) or per-token TopK (a token keeps its k largest latents).
 */
export type SaeActivation = { kind: "relu" } | { kind: "jumprelu"; threshold: Float32Array } | { kind: "topk"; k: number };

export interface SaeEncoder {
  meta: Pick<SaeMeta, "layer" | "width" | "dim" | "scale">;
  /** width × dim, row j = latent j's encoder vector: half floats (the shipped format) or float32 (imports). */
  wEnc: Uint16Array | Float32Array;
  bEnc: Float32Array;
  bPre: Float32Array;
  activation: SaeActivation;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half (round to nearest even; overflow to ±inf). */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
const unb64 = (s: string) => {
  const b = Buffer.from(s, "base64");
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

export async function writeSaeEncoder(
  dir: string,
  p: { layer: number; width: number; dim: number; scale: number; wEnc: Float32Array; bEnc: Float32Array; bPre: Float32Array },
  training: Record<string, unknown>,
): Promise<void> {
  const half = new Uint16Array(p.wEnc.length);
  for (let i = 0; i < half.length; i++) half[i] = toHalf(p.wEnc[i]!);
  const meta: SaeMeta = { format: SAE_FORMAT, layer: p.layer, width: p.width, dim: p.dim, scale: p.scale, bEnc: b64(p.bEnc), bPre: b64(p.bPre), training };
  await writeFile(join(dir, SAE_ENCODER_FILE), Buffer.from(half.buffer));
  await writeFile(join(dir, SAE_META_FILE), JSON.stringify(meta, null, 1) + "\n");
}

export async function readSaeEncoder(dir: string): Promise<SaeEncoder> {
  const meta = JSON.parse(await readFile(join(dir, SAE_META_FILE), "utf8")) as SaeMeta;
  if (meta.format !== SAE_FORMAT) throw new Error(`${join(dir, SAE_META_FILE)}: SAE format ${meta.format}, expected ${SAE_FORMAT}`);
  const buf = await readFile(join(dir, SAE_ENCODER_FILE));
  if (buf.byteLength !== meta.width * meta.dim * 2) {
    throw new Error(`${join(dir, SAE_ENCODER_FILE)} holds ${buf.byteLength} bytes; expected ${meta.width}×${meta.dim} half floats`);
  }
  const wEnc = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { meta, wEnc, bEnc: unb64(meta.bEnc), bPre: unb64(meta.bPre), activation: { kind: "relu" } };
}
