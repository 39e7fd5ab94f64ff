// The fused sparse head (SPLARE), appended to any graph that computes token states: the SAE
// encoder, the saturation, masked max-pooling over every token of every window of a text, and
// Top-K, so that encoding is one session and only latent ids and weights leave it. Every pack
// gets its head from here: the default pack (default-pack.ts) and `loupe pack build`
// (model/pack-build.ts), both through model/onnx/surgery.ts.
//
//   z = W_enc·(scale·h − b_pre) + b_enc over the tapped token states h,
//   a = ReLU(z), or JumpReLU (z where z > θ, else 0), or per-token TopK (the token's k largest),
//   u = max over the tokens of every window of a text of log(1 + a), then Top-K per text.
// Extra inputs: top_k [1], text_of_window [B] (which text each window row belongs to, 0-based)
// and text_count [1]. Outputs latent_ids [texts, K] (int64) and latent_weights [texts, K]
// (descending; zeros past a text's active latents).
import { DataType, type GraphBuilder } from "../onnx/graph.js";
import { fromHalf, type SaeEncoder } from "../sae-format.js";

export const HEAD_OUTPUTS = { latentIds: "latent_ids", latentWeights: "latent_weights" } as const;

/**
 * How the sparse graph multiplies: all in float32; "int8": the head's SAE product in integers
 * (int8 weights per latent, each token's state quantised on its own); "int8-all": the encoder's
 * dense layers too (every MatMul by a constant matrix; attention scores stay float).
 */
export type HeadPrecision = "float" | "int8" | "int8-all";
export const HEAD_PRECISIONS: readonly HeadPrecision[] = ["float", "int8", "int8-all"];

export interface HeadOptions {
  /** The token states [B, T, dim] the SAE reads. */
  states: string;
  /** attention_mask as float [B, T, 1] (1 = token, 0 = padding). */
  mask3: string;
  /** Token ids [B, T] (int64), needed when `poolExclude` is not empty. */
  ids?: string;
  /** Token ids never pooled (a tokenizer's special tokens: [CLS], [SEP], <bos>, …). */
  poolExclude?: readonly number[];
  precision: HeadPrecision;
}

export function sparseHead(g: GraphBuilder, sae: SaeEncoder, o: HeadOptions): void {
  const { width, dim, scale } = sae.meta;
  const topK = g.input("top_k", DataType.INT64, [1]);
  const owner = g.input("text_of_window", DataType.INT64, ["batch"]);
  const texts = g.input("text_count", DataType.INT64, [1]);
  const centred = g.op("Sub", [g.op("Mul", [o.states, g.scalar("sae_scale", scale)]), g.constant("sae_b_pre", sae.bPre, [dim])]); // [B,T,D]
  let poolMask = o.mask3;
  if (o.poolExclude && o.poolExclude.length > 0) {
    if (!o.ids) throw new Error("sparseHead: poolExclude needs the token ids");
    const excluded = g.constant("sae_pool_exclude", BigInt64Array.from(o.poolExclude, (v) => BigInt(v)), [o.poolExclude.length]);
    const isExcluded = g.op("ReduceMax", [g.op("Cast", [g.op("Equal", [g.op("Unsqueeze", [o.ids, g.ints("sae_axis_last", [-1])]), excluded])], { to: DataType.FLOAT }), "sae_axis_last"], { keepdims: 1 }); // [B,T,1]
    poolMask = g.op("Mul", [o.mask3, g.op("Sub", [g.scalar("sae_pool_one", 1), isExcluded])]);
  }
  // z = y·c + b_enc, with y the product and c a positive per-latent factor (1 for the float head).
  // For ReLU and JumpReLU, u is monotone in z, and z is monotone in y, so the max over each
  // window's tokens runs first, on y (padded positions get y − 1e9, so they never win), and the
  // element-wise tail on [windows, W]. Per-token TopK depends on the token's other latents, so
  // it runs per token before the max.
  const { product, perLatent } = o.precision !== "float" ? int8Product(g, sae, centred) : { product: floatProduct(g, sae, centred), perLatent: null };
  const padding = g.op("Mul", [g.op("Sub", [poolMask, g.scalar("sae_mask_one", 1)]), g.scalar("sae_pad_low", 1e9)]); // [B,T,1]: 0 or −1e9
  const affine = (y: string) => g.op("Add", [perLatent ? g.op("Mul", [y, g.constant("sae_per_latent", perLatent, [width])]) : y, g.constant("sae_b_enc", sae.bEnc, [width])]);
  const tokens = g.ints("sae_axis_tokens", [1]);
  let activation: string;
  if (sae.activation.kind === "topk") {
    const z = affine(product); // [B,T,W]
    const [values] = g.opMulti("TopK", [z, g.constant("sae_token_k", BigInt64Array.of(BigInt(sae.activation.k)), [1])], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
    const kth = g.op("Gather", [values, g.constant("sae_token_k_last", BigInt64Array.of(BigInt(sae.activation.k - 1)), [1])], { axis: -1 }); // [B,T,1]
    const kept = g.op("Mul", [g.op("Relu", [z]), g.op("Cast", [g.op("GreaterOrEqual", [z, kth])], { to: DataType.FLOAT })]);
    activation = g.op("ReduceMax", [g.op("Add", [kept, padding]), tokens], { keepdims: 0 }); // [B,W]
  } else {
    const z = affine(g.op("ReduceMax", [g.op("Add", [product, padding]), tokens], { keepdims: 0 })); // [B,W]
    const relu = g.op("Relu", [z]);
    activation = sae.activation.kind === "jumprelu" ? g.op("Mul", [relu, g.op("Cast", [g.op("Greater", [z, g.constant("sae_threshold", sae.activation.threshold, [width])])], { to: DataType.FLOAT })]) : relu;
  }
  const perWindow = g.op("Log", [g.op("Add", [activation, g.scalar("sae_one", 1)])]);
  // Max across each text's windows: scatter rows into [texts, W] with reduction "max" (≥ 0).
  // (A scatter over tokens, whose rows repeat far more, gave vectors that changed from run to
  // run with two threads; over windows they are identical run to run.)
  const shape = g.op("Concat", [texts, g.ints("sae_width", [width])], { axis: 0 });
  const zeros = g.op("ConstantOfShape", [shape]); // float32 zeros
  const rowIndex = g.op("Expand", [g.op("Unsqueeze", [owner, g.ints("sae_axis1", [1])]), g.op("Shape", [perWindow])]);
  const perText = g.op("ScatterElements", [zeros, rowIndex, perWindow], { axis: 0, reduction: "max" });
  const [values, ids] = g.opMulti("TopK", [perText, topK], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
  g.output(HEAD_OUTPUTS.latentWeights, values, DataType.FLOAT, ["texts", "k"]);
  g.output(HEAD_OUTPUTS.latentIds, ids, DataType.INT64, ["texts", "k"]);
}

/** W_enc transposed to dim × width; half floats stay half (the Cast is constant-folded when the session loads). */
function floatProduct(g: GraphBuilder, sae: SaeEncoder, centred: string): string {
  const { width, dim } = sae.meta;
  if (sae.wEnc instanceof Uint16Array) {
    const transposed = new Uint16Array(width * dim);
    for (let j = 0; j < width; j++) for (let c = 0; c < dim; c++) transposed[c * width + j] = sae.wEnc[j * dim + c]!;
    const wEnc = g.op("Cast", [g.constant("sae_w_enc_t", transposed, [dim, width], true)], { to: DataType.FLOAT });
    return g.op("MatMul", [centred, wEnc]);
  }
  return g.op("MatMul", [centred, g.constant("sae_w_enc_t", transposeRows(sae.wEnc, width, dim), [dim, width])]);
}

function transposeRows(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let j = 0; j < rows; j++) for (let c = 0; c < cols; c++) t[c * rows + j] = w[j * cols + c]!;
  return t;
}

/**
 * Weights use 7 of int8's 8 bits (±63, onnxruntime's "reduce range"): CPUs without VNNI multiply
 * u8·s8 pairs into saturating int16 sums (2 × 255 × 127 overflows), and onnxruntime picks kernels
 * by shape, so with full-range weights a text's vector changed with what it was batched with.
 * With ±63 every kernel sums exactly.
 */
const WEIGHT_LEVELS = 63;

/**
 * The product in integers: each latent's weights become int8 with their own scale (symmetric,
 * max |w| → 63), each token's state uint8 with its own scale (symmetric around 128), so a
 * token's result does not depend on what else is in the batch (a scale per batch made two
 * clients' identical queries differ). MatMulInteger runs u8·s8 (VNNI where the CPU has it).
 * Returns the product rescaled by the token scales only; the weight scales are the per-latent
 * factor, applied after the max.
 */
function int8Product(g: GraphBuilder, sae: SaeEncoder, centred: string): { product: string; perLatent: Float32Array } {
  const { width, dim } = sae.meta;
  const wT = new Float32Array(dim * width); // [dim, width], as the product reads it
  const at = sae.wEnc instanceof Uint16Array ? (i: number) => fromHalf((sae.wEnc as Uint16Array)[i]!) : (i: number) => (sae.wEnc as Float32Array)[i]!;
  for (let j = 0; j < width; j++) for (let c = 0; c < dim; c++) wT[c * width + j] = at(j * dim + c);
  const { q, scales } = quantizeColumns(wT, dim, width);
  // An all-zero latent: q is 0, so the factor is moot (1 keeps −b/c finite).
  const perLatent = Float32Array.from(scales, (x) => (x > 0 ? x : 1));
  return { product: tokenQuantizedProduct(g, centred, g.constant("sae_w_enc_q", q, [dim, width])), perLatent };
}

/** Symmetric per-column quantisation of a row-major [k, n] matrix to ±WEIGHT_LEVELS. */
function quantizeColumns(w: Float32Array, k: number, n: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(k * n);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, Math.abs(w[c * n + j]!));
    scales[j] = max / WEIGHT_LEVELS;
    if (max > 0) for (let c = 0; c < k; c++) q[c * n + j] = Math.round((w[c * n + j]! / max) * WEIGHT_LEVELS);
  }
  return { q, scales };
}

/**
 * input · W in integers, rescaled by each token's (last-axis row's) own scale but not by W's
 * column scales: each row quantised to uint8 symmetric around 128, MatMulInteger u8·s8.
 */
function tokenQuantizedProduct(g: GraphBuilder, input: string, weightQ: string): string {
  const c = (name: string, make: () => string) => (g.has(name) ? name : make());
  const tiny = c("q_tiny", () => g.scalar("q_tiny", 1e-12));
  const levels = c("q_127", () => g.scalar("q_127", 127));
  const mid = c("q_128", () => g.scalar("q_128", 128));
  const zero = c("q_zero_u8", () => g.constant("q_zero_u8", Uint8Array.of(128), []));
  const lastAxis = c("q_axis_last", () => g.ints("q_axis_last", [-1]));
  const rowScale = g.op("Div", [g.op("Max", [g.op("ReduceMax", [g.op("Abs", [input]), lastAxis], { keepdims: 1 }), tiny]), levels]);
  const xq = g.op("Cast", [g.op("Add", [g.op("Round", [g.op("Div", [input, rowScale])]), mid])], { to: DataType.UINT8 });
  const acc = g.op("MatMulInteger", [xq, weightQ, zero]);
  return g.op("Mul", [g.op("Cast", [acc], { to: DataType.FLOAT }), rowScale]);
}

/**
 * input · W in integers, for an encoder's dense layers ("int8-all"): the token-quantised
 * product times W's column scales. `name` prefixes the constants it adds.
 */
export function quantizedProduct(g: GraphBuilder, input: string, name: string, w: Float32Array, dims: readonly [number, number]): string {
  const { q, scales } = quantizeColumns(w, dims[0], dims[1]);
  return g.op("Mul", [tokenQuantizedProduct(g, input, g.constant(`${name}_q`, q, [...dims])), g.constant(`${name}_scale`, scales, [dims[1]])]);
}
