// Tiny encoders with random weights, for `loupe pack build` tests: a BERT-like one (WordPiece
// tokenizer, token types, learned positions, post-LayerNorm, GELU; opset 14, LayerNorm spelt out
// with ReduceMean's `axes` attribute as torch exports it there) and a decoder-like one (BPE
// tokenizer with <bos>, causal attention, RMSNorm, gated GELU MLP, position_ids input, an LM
// head; opset 17), both with torch.onnx's scope names (/encoder/layer.N/…, /model/layers.N/…),
// each with a plain JavaScript forward pass of the same math: the reference the packed graph is
// checked against. Also the SAE files in the published formats (Gemma Scope .npz, Llama Scope
// safetensors + hyperparams.json).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { zipSync } from "fflate";
import { DataType, GraphBuilder } from "../../daemon/src/model/onnx/graph.js";

export function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}
const randn = (r: () => number, n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);

const WORDS = ("the a of to and in is for on with search index file code note token latent sparse query document function return value error " +
  "loupe daemon vector memory read write fast slow find lines root watch chunk encode graph layer model pack train world hello").split(" ");
const LETTERS = "abcdefghijklmnopqrstuvwxyz".split("");

// ---------------------------------------------------------------------------------------------
// Tokenizers (Hugging Face tokenizer.json)

/** An `added_tokens` entry for a special token of `vocab`. */
const specialToken = (vocab: Record<string, number>) => (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

export function wordPieceTokenizer(): { json: object; size: number } {
  const vocab: Record<string, number> = {};
  for (const t of ["[PAD]", "[UNK]", "[CLS]", "[SEP]", ".", ",", ...WORDS, ...LETTERS, ...LETTERS.map((l) => `##${l}`), ...WORDS.map((w) => `##${w}`)]) vocab[t] ??= Object.keys(vocab).length;
  return {
    size: Object.keys(vocab).length,
    json: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].map(specialToken(vocab)),
      normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
        special_tokens: { "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] } },
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
    },
  };
}

export function bpeTokenizer(): { json: object; size: number } {
  const vocab: Record<string, number> = {};
  const merges: string[] = [];
  for (const t of ["<pad>", "<eos>", "<bos>", "<unk>", "\u2581", ".", ",", ...LETTERS]) vocab[t] ??= Object.keys(vocab).length;
  // Merges that build "▁word" for every known word, letter by letter.
  for (const w of WORDS) {
    let piece = "\u2581";
    for (const ch of w) {
      const next = piece + ch;
      if (vocab[next] === undefined) {
        vocab[next] = Object.keys(vocab).length;
        merges.push(`${piece} ${ch}`);
      }
      piece = next;
    }
  }
  return {
    size: Object.keys(vocab).length,
    json: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: ["<pad>", "<eos>", "<bos>", "<unk>"].map(specialToken(vocab)),
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<bos>": { id: "<bos>", ids: [vocab["<bos>"]], tokens: ["<bos>"] } },
      },
      decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
      model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Plain JavaScript math for the references

type Mat = Float32Array; // row-major

function matmul(x: Mat, rows: number, inner: number, w: Mat, cols: number, bias?: Mat): Mat {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      let s = bias ? bias[c]! : 0;
      for (let k = 0; k < inner; k++) s += x[r * inner + k]! * w[k * cols + c]!;
      out[r * cols + c] = s;
    }
  return out;
}

function layerNorm(x: Mat, rows: number, h: number, gamma: Mat, beta: Mat, eps: number): Mat {
  const out = new Float32Array(rows * h);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < h; c++) mean += x[r * h + c]!;
    mean /= h;
    let v = 0;
    for (let c = 0; c < h; c++) v += (x[r * h + c]! - mean) ** 2;
    v /= h;
    for (let c = 0; c < h; c++) out[r * h + c] = ((x[r * h + c]! - mean) / Math.sqrt(v + eps)) * gamma[c]! + beta[c]!;
  }
  return out;
}

function rmsNorm(x: Mat, rows: number, h: number, w: Mat, eps: number): Mat {
  const out = new Float32Array(rows * h);
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let c = 0; c < h; c++) ms += x[r * h + c]! ** 2;
    ms /= h;
    for (let c = 0; c < h; c++) out[r * h + c] = (x[r * h + c]! / Math.sqrt(ms + eps)) * (1 + w[c]!);
  }
  return out;
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse for a 1e-4 check; use a series/continued fraction.
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = 0;
    let term = t;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-t * t) / (n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** softmax(q·kᵀ·scale + bias)·v for one head; `allowed(i, j)` masks keys. */
function attention(q: Mat, k: Mat, v: Mat, t: number, h: number, heads: number, allowed: (i: number, j: number) => boolean): Mat {
  const d = h / heads;
  const out = new Float32Array(t * h);
  for (let hd = 0; hd < heads; hd++)
    for (let i = 0; i < t; i++) {
      const scores = new Float64Array(t);
      let max = -Infinity;
      for (let j = 0; j < t; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i * h + hd * d + c]! * k[j * h + hd * d + c]!;
        s = allowed(i, j) ? s / Math.sqrt(d) : -1e9;
        scores[j] = s;
        max = Math.max(max, s);
      }
      let sum = 0;
      for (let j = 0; j < t; j++) sum += scores[j] = Math.exp(scores[j]! - max);
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < t; j++) s += (scores[j]! / sum) * v[j * h + hd * d + c]!;
        out[i * h + hd * d + c] = s;
      }
    }
  return out;
}

const add = (a: Mat, b: Mat) => Float32Array.from(a, (x, i) => x + b[i]!);

// ---------------------------------------------------------------------------------------------
// Graph helpers (torch.onnx style at opsets 14–17)

function lnGraph(g: GraphBuilder, x: string, gamma: string, beta: string, eps: number): string {
  const mean = g.op("ReduceMean", [x], { axes: [-1], keepdims: 1 });
  const centred = g.op("Sub", [x, mean]);
  const variance = g.op("ReduceMean", [g.op("Pow", [centred, g.scalar(`${g.scope}/two`, 2)])], { axes: [-1], keepdims: 1 });
  const normed = g.op("Div", [centred, g.op("Sqrt", [g.op("Add", [variance, g.scalar(`${g.scope}/eps`, eps)])])]);
  return g.op("Add", [g.op("Mul", [normed, gamma]), beta]);
}

function geluGraph(g: GraphBuilder, x: string): string {
  const s = g.scope;
  return g.op("Mul", [g.op("Mul", [x, g.op("Add", [g.op("Erf", [g.op("Div", [x, g.scalar(`${s}/sqrt2`, Math.SQRT2)])]), g.scalar(`${s}/one`, 1)])]), g.scalar(`${s}/half`, 0.5)]);
}

/** Multi-head attention of [B,T,H] q, k, v with a [B,1,T,T] or [B,1,1,T] additive bias. */
function attentionGraph(g: GraphBuilder, q: string, k: string, v: string, bias: string, h: number, heads: number): string {
  const s = g.scope;
  const shape = g.ints(`${s}/head_shape`, [0, 0, heads, h / heads]);
  const split = (x: string) => g.op("Transpose", [g.op("Reshape", [x, shape])], { perm: [0, 2, 1, 3] });
  const scores = g.op("Div", [g.op("MatMul", [split(q), g.op("Transpose", [split(k)], { perm: [0, 1, 3, 2] })]), g.scalar(`${s}/scale`, Math.sqrt(h / heads))]);
  const ctx = g.op("MatMul", [g.op("Softmax", [g.op("Add", [scores, bias])], { axis: -1 }), split(v)]);
  return g.op("Reshape", [g.op("Transpose", [ctx], { perm: [0, 2, 1, 3] }), g.ints(`${s}/merge_shape`, [0, 0, h])]);
}

function rangeOfSeq(g: GraphBuilder, ids: string, tag: string): string {
  const t = g.op("Gather", [g.op("Shape", [ids]), g.constant(`${tag}_idx1`, BigInt64Array.of(1n), [])], { axis: 0 });
  return g.op("Range", [g.constant(`${tag}_zero`, BigInt64Array.of(0n), []), t, g.constant(`${tag}_one`, BigInt64Array.of(1n), [])]);
}

// ---------------------------------------------------------------------------------------------
// The BERT-like encoder

export interface TinyBert {
  onnx: Uint8Array;
  hidden: number;
  layers: number;
  /** Output states of layer `layer` for one window (ids with specials), [T, H]. */
  forward(ids: readonly number[], layer: number): Float32Array;
}

export function tinyBert(vocabSize: number, seed = 11): TinyBert {
  const H = 16, HEADS = 2, L = 3, F = 32, P = 64, EPS = 1e-12;
  const r = rng(seed);
  const word = randn(r, vocabSize * H, 0.5), pos = randn(r, P * H, 0.1), type = randn(r, 2 * H, 0.1);
  const embG = Float32Array.from({ length: H }, () => 1 + (r() - 0.5) * 0.2), embB = randn(r, H, 0.05);
  const layers = Array.from({ length: L }, () => ({
    q: randn(r, H * H, 0.4), qb: randn(r, H, 0.05), k: randn(r, H * H, 0.4), kb: randn(r, H, 0.05), v: randn(r, H * H, 0.4), vb: randn(r, H, 0.05),
    o: randn(r, H * H, 0.4), ob: randn(r, H, 0.05), ln1g: Float32Array.from({ length: H }, () => 1 + (r() - 0.5) * 0.2), ln1b: randn(r, H, 0.05),
    f1: randn(r, H * F, 0.4), f1b: randn(r, F, 0.05), f2: randn(r, F * H, 0.3), f2b: randn(r, H, 0.05),
    ln2g: Float32Array.from({ length: H }, () => 1 + (r() - 0.5) * 0.2), ln2b: randn(r, H, 0.05),
  }));
  const poolW = randn(r, H * H, 0.3), poolB = randn(r, H, 0.05);

  const g = new GraphBuilder("tiny_bert");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const types = g.input("token_type_ids", DataType.INT64, ["batch", "sequence"]);
  g.scope = "/embeddings";
  const positions = g.op("Gather", [g.constant("embeddings.position_embeddings.weight", pos, [P, H]), rangeOfSeq(g, ids, "/embeddings/pos")], { axis: 0 });
  let x = g.op("Add", [g.op("Add", [g.op("Gather", [g.constant("embeddings.word_embeddings.weight", word, [vocabSize, H]), ids], { axis: 0 }), g.op("Gather", [g.constant("embeddings.token_type_embeddings.weight", type, [2, H]), types], { axis: 0 })]), positions]);
  x = lnGraph(g, x, g.constant("embeddings.LayerNorm.weight", embG, [H]), g.constant("embeddings.LayerNorm.bias", embB, [H]), EPS);
  g.scope = "";
  const bias = g.op("Unsqueeze", [g.op("Mul", [g.op("Sub", [g.scalar("one_f", 1), g.op("Cast", [mask], { to: DataType.FLOAT })]), g.scalar("neg_big", -1e9)]), g.ints("axes_1_2", [1, 2])]);
  layers.forEach((w, n) => {
    const c = (name: string, data: Float32Array, dims: number[]) => g.constant(`encoder.layer.${n}.${name}`, data, dims);
    g.scope = `/encoder/layer.${n}/attention/self`;
    const dense = (input: string, wt: Float32Array, b: Float32Array, name: string, i: number, o: number) => g.op("Add", [g.op("MatMul", [input, c(`${name}.weight`, wt, [i, o])]), c(`${name}.bias`, b, [o])]);
    const ctx = attentionGraph(g, dense(x, w.q, w.qb, "attention.self.query", H, H), dense(x, w.k, w.kb, "attention.self.key", H, H), dense(x, w.v, w.vb, "attention.self.value", H, H), bias, H, HEADS);
    g.scope = `/encoder/layer.${n}/attention/output`;
    const a = lnGraph(g, g.op("Add", [dense(ctx, w.o, w.ob, "attention.output.dense", H, H), x]), c("attention.output.LayerNorm.weight", w.ln1g, [H]), c("attention.output.LayerNorm.bias", w.ln1b, [H]), EPS);
    g.scope = `/encoder/layer.${n}/intermediate`;
    const inter = geluGraph(g, dense(a, w.f1, w.f1b, "intermediate.dense", H, F));
    g.scope = `/encoder/layer.${n}/output`;
    x = lnGraph(g, g.op("Add", [dense(inter, w.f2, w.f2b, "output.dense", F, H), a]), c("output.LayerNorm.weight", w.ln2g, [H]), c("output.LayerNorm.bias", w.ln2b, [H]), EPS);
  });
  g.scope = "/pooler";
  const first = g.op("Gather", [x, g.constant("pooler_first", BigInt64Array.of(0n), [])], { axis: 1 });
  const pooled = g.op("Tanh", [g.op("Add", [g.op("MatMul", [first, g.constant("pooler.dense.weight", poolW, [H, H])]), g.constant("pooler.dense.bias", poolB, [H])])]);
  g.scope = "";
  g.output("last_hidden_state", x, DataType.FLOAT, ["batch", "sequence", H]);
  g.output("pooler_output", pooled, DataType.FLOAT, ["batch", H]);
  const onnx = g.serialize(14, "pytorch-like-test");

  function forward(window: readonly number[], upTo: number): Float32Array {
    const t = window.length;
    let h: Mat = new Float32Array(t * H);
    for (let i = 0; i < t; i++) for (let c = 0; c < H; c++) h[i * H + c] = word[window[i]! * H + c]! + type[c]! + pos[i * H + c]!;
    h = layerNorm(h, t, H, embG, embB, EPS);
    for (let n = 0; n <= upTo; n++) {
      const w = layers[n]!;
      const ctx = attention(matmul(h, t, H, w.q, H, w.qb), matmul(h, t, H, w.k, H, w.kb), matmul(h, t, H, w.v, H, w.vb), t, H, HEADS, () => true);
      const a = layerNorm(add(matmul(ctx, t, H, w.o, H, w.ob), h), t, H, w.ln1g, w.ln1b, EPS);
      const inter = matmul(a, t, H, w.f1, F, w.f1b).map(gelu);
      h = layerNorm(add(matmul(inter, t, F, w.f2, H, w.f2b), a), t, H, w.ln2g, w.ln2b, EPS);
    }
    return h;
  }
  return { onnx, hidden: H, layers: L, forward };
}

// ---------------------------------------------------------------------------------------------
// The decoder-like encoder

export function tinyDecoder(vocabSize: number, seed = 23): TinyBert {
  const H = 24, HEADS = 3, L = 4, F = 40, P = 64, EPS = 1e-6;
  const r = rng(seed);
  const embed = randn(r, vocabSize * H, 0.5), pos = randn(r, P * H, 0.1);
  const layers = Array.from({ length: L }, () => ({
    n1: randn(r, H, 0.1), q: randn(r, H * H, 0.3), k: randn(r, H * H, 0.3), v: randn(r, H * H, 0.3), o: randn(r, H * H, 0.3),
    n2: randn(r, H, 0.1), gate: randn(r, H * F, 0.3), up: randn(r, H * F, 0.3), down: randn(r, F * H, 0.3),
  }));
  const finalNorm = randn(r, H, 0.1), lmHead = randn(r, H * vocabSize, 0.2);

  const g = new GraphBuilder("tiny_decoder");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const positionIds = g.input("position_ids", DataType.INT64, ["batch", "sequence"]);
  const rms = (x: string, w: string) => {
    const s = g.scope;
    const ms = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(`${s}/eps`, EPS)])])]);
    return g.op("Mul", [g.op("Mul", [x, inv]), g.op("Add", [w, g.scalar(`${s}/one`, 1)])]);
  };
  g.scope = "/model/embed_tokens";
  let x = g.op("Add", [
    g.op("Mul", [g.op("Gather", [g.constant("model.embed_tokens.weight", embed, [vocabSize, H]), ids], { axis: 0 }), g.scalar("/model/embed_scale", Math.sqrt(H))]),
    g.op("Gather", [g.constant("model.embed_positions.weight", pos, [P, H]), positionIds], { axis: 0 }),
  ]);
  g.scope = "/model";
  const range = rangeOfSeq(g, ids, "/model/causal");
  const causal = g.op("Not", [g.op("Greater", [g.op("Unsqueeze", [range, g.ints("/model/axis0", [0])]), g.op("Unsqueeze", [range, g.ints("/model/axis1", [1])])])]); // [T,T]: key j ≤ query i
  const padding = g.op("Unsqueeze", [g.op("Cast", [mask], { to: DataType.BOOL }), g.ints("/model/axes_1_2", [1, 2])]); // [B,1,1,T]
  const bias = g.op("Where", [g.op("And", [causal, padding]), g.scalar("/model/zero_f", 0), g.scalar("/model/neg_big", -1e9)]); // [B,1,T,T]
  layers.forEach((w, n) => {
    const c = (name: string, data: Float32Array, dims: number[]) => g.constant(`model.layers.${n}.${name}`, data, dims);
    g.scope = `/model/layers.${n}/input_layernorm`;
    const normed = rms(x, c("input_layernorm.weight", w.n1, [H]));
    g.scope = `/model/layers.${n}/self_attn`;
    const proj = (name: string, wt: Float32Array, from: string, i: number, o: number) => g.op("MatMul", [from, c(`${name}.weight`, wt, [i, o])]);
    const ctx = attentionGraph(g, proj("self_attn.q_proj", w.q, normed, H, H), proj("self_attn.k_proj", w.k, normed, H, H), proj("self_attn.v_proj", w.v, normed, H, H), bias, H, HEADS);
    g.scope = `/model/layers.${n}`;
    const h1 = g.op("Add", [x, proj("self_attn.o_proj", w.o, ctx, H, H)]);
    g.scope = `/model/layers.${n}/post_attention_layernorm`;
    const n2 = rms(h1, c("post_attention_layernorm.weight", w.n2, [H]));
    g.scope = `/model/layers.${n}/mlp`;
    const gated = g.op("Mul", [geluGraph(g, proj("mlp.gate_proj", w.gate, n2, H, F)), proj("mlp.up_proj", w.up, n2, H, F)]);
    const down = proj("mlp.down_proj", w.down, gated, F, H);
    g.scope = `/model/layers.${n}`;
    x = g.op("Add", [h1, down]);
  });
  g.scope = "/model/norm";
  const last = rms(x, g.constant("model.norm.weight", finalNorm, [H]));
  g.scope = "/lm_head";
  const logits = g.op("MatMul", [last, g.constant("lm_head.weight", lmHead, [H, vocabSize])]);
  g.scope = "";
  g.output("last_hidden_state", last, DataType.FLOAT, ["batch", "sequence", H]);
  g.output("logits", logits, DataType.FLOAT, ["batch", "sequence", vocabSize]);
  const onnx = g.serialize(17, "pytorch-like-test");

  function forward(window: readonly number[], upTo: number): Float32Array {
    const t = window.length;
    let h: Mat = new Float32Array(t * H);
    for (let i = 0; i < t; i++) for (let c = 0; c < H; c++) h[i * H + c] = embed[window[i]! * H + c]! * Math.fround(Math.sqrt(H)) + pos[i * H + c]!;
    for (let n = 0; n <= upTo; n++) {
      const w = layers[n]!;
      const normed = rmsNorm(h, t, H, w.n1, EPS);
      const ctx = attention(matmul(normed, t, H, w.q, H), matmul(normed, t, H, w.k, H), matmul(normed, t, H, w.v, H), t, H, HEADS, (i, j) => j <= i);
      const h1 = add(h, matmul(ctx, t, H, w.o, H));
      const n2 = rmsNorm(h1, t, H, w.n2, EPS);
      const gate = matmul(n2, t, H, w.gate, F).map(gelu);
      const up = matmul(n2, t, H, w.up, F);
      h = add(h1, matmul(Float32Array.from(gate, (v, i) => v * up[i]!), t, F, w.down, H));
    }
    return h;
  }
  return { onnx, hidden: H, layers: L, forward };
}

// ---------------------------------------------------------------------------------------------
// SAEs in the published formats

export interface RandomSae {
  dim: number;
  width: number;
  /** [width × dim], latent rows. */
  wEnc: Float32Array;
  bEnc: Float32Array;
  threshold: Float32Array;
}

export function randomSae(dim: number, width: number, seed: number): RandomSae {
  const r = rng(seed);
  return {
    dim,
    width,
    wEnc: randn(r, width * dim, 0.6),
    bEnc: randn(r, width, 0.3),
    threshold: Float32Array.from({ length: width }, () => r() * 0.4),
  };
}

function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += " ";
  header += "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Gemma Scope's params.npz: W_enc [d_model, d_sae], b_enc, threshold, W_dec, b_dec. */
export async function writeGemmaScope(dir: string, sae: RandomSae): Promise<string> {
  const wEncT = new Float32Array(sae.dim * sae.width);
  for (let j = 0; j < sae.width; j++) for (let c = 0; c < sae.dim; c++) wEncT[c * sae.width + j] = sae.wEnc[j * sae.dim + c]!;
  await mkdir(dir, { recursive: true });
  const file = join(dir, "params.npz");
  await writeFile(file, zipSync({
    "W_enc.npy": npy(wEncT, [sae.dim, sae.width]),
    "W_dec.npy": npy(new Float32Array(sae.width * sae.dim), [sae.width, sae.dim]),
    "b_enc.npy": npy(sae.bEnc, [sae.width]),
    "b_dec.npy": npy(new Float32Array(sae.dim), [sae.dim]),
    "threshold.npy": npy(sae.threshold, [sae.width]),
  }));
  return file;
}

function bf16Bytes(data: Float32Array): { bytes: Uint8Array; rounded: Float32Array } {
  const u32 = new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const half = Uint16Array.from(u32, (x) => (x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
  const rounded = new Float32Array(new Uint32Array(Array.from(half, (h) => h << 16)).buffer);
  return { bytes: new Uint8Array(half.buffer), rounded };
}

/**
 * A Llama Scope SAE folder: hyperparams.json + checkpoints/final.safetensors with
 * encoder.weight in bfloat16 (as released) and the rest in float32. Returns the weights as the
 * file holds them (bf16-rounded).
 */
export async function writeLlamaScope(dir: string, sae: RandomSae, hp: { act_fn: "jumprelu" | "topk"; jump_relu_threshold?: number; top_k?: number; averageNorm: number; layer: number }): Promise<RandomSae> {
  const { bytes: wBytes, rounded } = bf16Bytes(sae.wEnc);
  const tensors: Array<[string, string, number[], Uint8Array]> = [
    ["encoder.weight", "BF16", [sae.width, sae.dim], wBytes],
    ["encoder.bias", "F32", [sae.width], new Uint8Array(sae.bEnc.buffer.slice(0))],
    ["decoder.weight", "F32", [sae.dim, sae.width], new Uint8Array(sae.dim * sae.width * 4)],
    ["decoder.bias", "F32", [sae.dim], new Uint8Array(sae.dim * 4)],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, dtype, shape, b] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + b.byteLength] };
    offset += b.byteLength;
  }
  let json = JSON.stringify(header);
  while (json.length % 8) json += " ";
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const [, , , b] of tensors) {
    out.set(b, at);
    at += b.byteLength;
  }
  await mkdir(join(dir, "checkpoints"), { recursive: true });
  await writeFile(join(dir, "checkpoints", "final.safetensors"), out);
  await writeFile(join(dir, "hyperparams.json"), JSON.stringify({
    d_model: sae.dim, d_sae: sae.width, hook_point_in: `blocks.${hp.layer}.hook_resid_post`, hook_point_out: `blocks.${hp.layer}.hook_resid_post`,
    act_fn: hp.act_fn, ...(hp.jump_relu_threshold !== undefined ? { jump_relu_threshold: hp.jump_relu_threshold } : {}), ...(hp.top_k !== undefined ? { top_k: hp.top_k } : {}),
    norm_activation: "dataset-wise", dataset_average_activation_norm: { in: hp.averageNorm, out: hp.averageNorm }, apply_decoder_bias_to_pre_encoder: false,
  }, null, 1));
  return { ...sae, wEnc: rounded };
}
