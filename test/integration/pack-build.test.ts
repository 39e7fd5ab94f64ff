// Tier: integration (real ONNX sessions, the real tokenizer library, real pack folders).
// `loupe pack build` on tiny random encoders built here as ONNX the way torch.onnx exports them
// (test/support/tiny-encoders.ts), with SAEs in the published file formats, checked against an
// independent plain-JavaScript computation of the same math: the encoder's forward pass to the
// tapped layer → SAE encoder → activation (JumpReLU, per-token TopK) → log(1 + ·) → max over
// every token of every window (special tokens excluded) → Top-K.
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@loupe/protocol";
import { Encoder } from "../../daemon/src/model/encoder.js";
import { decodeModel, encodeModel } from "../../daemon/src/model/onnx/proto.js";
import { buildPack } from "../../daemon/src/model/pack-build.js";
import { loadPack, type ModelPack } from "../../daemon/src/model/pack.js";
import { fromHalf, readSaeEncoder } from "../../daemon/src/model/sae-format.js";
import type { SparseVector } from "../../daemon/src/sparse-vector.js";
import { bpeTokenizer, randomSae, tinyBert, tinyDecoder, wordPieceTokenizer, writeGemmaScope, writeLlamaScope, type RandomSae, type TinyBert } from "../support/tiny-encoders.js";

const TEXTS = [
  "hello world",
  "the daemon reads a file and writes the index",
  "search code, find lines, encode chunk; the latent sparse vector of a query is fast",
  // Long enough for several windows at 16 tokens.
  "the model reads the graph of the layer and the pack writes memory for the root watch of notes; a token value error in the function returns slow lines to find in code and search",
  "xyzzy qwerty",
];

type Activation = { kind: "jumprelu"; threshold: Float32Array } | { kind: "topk"; k: number };

/** The reference: plain JavaScript over `encoder.windows` (the tokenizer is the library's; the math is not). */
function reference(encoder: Encoder, model: TinyBert, layer: number, sae: RandomSae, scale: number, act: Activation, text: string, kind: "query" | "document", k: number, exclude: Set<number>): Map<number, number> {
  const u = new Float64Array(sae.width);
  for (const window of encoder.windows(text, kind)) {
    const states = model.forward(window, layer);
    window.forEach((id, t) => {
      if (exclude.has(id)) return;
      const z = new Float64Array(sae.width);
      for (let j = 0; j < sae.width; j++) {
        let s = sae.bEnc[j]!;
        for (let c = 0; c < sae.dim; c++) s += sae.wEnc[j * sae.dim + c]! * scale * states[t * sae.dim + c]!;
        z[j] = s;
      }
      let kth = -Infinity;
      if (act.kind === "topk") kth = [...z].sort((a, b) => b - a)[act.k - 1]!;
      for (let j = 0; j < sae.width; j++) {
        const z0 = z[j]!;
        const a = act.kind === "jumprelu" ? (z0 > act.threshold[j]! ? Math.max(z0, 0) : 0) : z0 >= kth ? Math.max(z0, 0) : 0;
        u[j] = Math.max(u[j]!, Math.log1p(a));
      }
    });
  }
  const ranked = [...u].map((w, id) => [id, w] as const).filter(([, w]) => w > 0).sort((a, b) => b[1] - a[1]).slice(0, k);
  return new Map(ranked);
}

/** Same latents and weights within `tol`; a latent may differ only where it ties the cut. */
function expectMatches(actual: SparseVector, expected: Map<number, number>, tol: number): void {
  const got = new Map(Array.from(actual.ids, (id, i) => [id, actual.weights[i]!] as const));
  const cut = Math.min(...expected.values(), ...got.values());
  for (const [id, w] of expected) {
    if (got.has(id)) expect(Math.abs(got.get(id)! - w), `latent ${id}`).toBeLessThan(tol);
    else expect(w - cut, `latent ${id} missing`).toBeLessThan(tol);
  }
  for (const [id, w] of got) if (!expected.has(id)) expect(w - cut, `latent ${id} extra`).toBeLessThan(tol);
  expect(got.size).toBeGreaterThan(0);
}

let dir: string;
const open: Encoder[] = [];
async function sparseEncoder(pack: ModelPack): Promise<Encoder> {
  const e = await Encoder.open(pack, { graph: "sparse", provider: "cpu", threads: 1, batchSize: 4 });
  open.push(e);
  return e;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "loupe-pack-build-"));
});
afterAll(async () => {
  for (const e of open) await e.close();
});

describe("a BERT-like encoder (WordPiece, opset 14)", () => {
  let model: TinyBert;
  let onnx: string;
  let tokenizer: string;
  beforeAll(async () => {
    const tok = wordPieceTokenizer();
    model = tinyBert(tok.size);
    await mkdir(join(dir, "bert"), { recursive: true });
    onnx = join(dir, "bert", "model.onnx");
    tokenizer = join(dir, "bert", "tokenizer.json");
    await writeFile(onnx, model.onnx);
    await writeFile(tokenizer, JSON.stringify(tok.json));
  });

  it("with a Llama Scope JumpReLU SAE (bf16 weights, dataset-wise norm) matches the reference", async () => {
    const sae = await writeLlamaScope(join(dir, "llama-scope-L1"), randomSae(16, 48, 5), { act_fn: "jumprelu", jump_relu_threshold: 0.15, averageNorm: 3, layer: 1 });
    const pack = await buildPack({ onnx, tokenizer, layer: 1, sae: join(dir, "llama-scope-L1"), out: join(dir, "pack-bert"), maxTokens: 16, windowOverlap: 4, topK: { query: 8, document: 24 }, queryPrefix: "query: " });
    const m = pack.manifest;
    expect(m.tokenizer).toMatchObject({ kind: "hf-tokenizer", prefix: [2], suffix: [3], queryPrefix: "query: " });
    expect(m.sparseHead).toMatchObject({ layer: 1, activation: "jumprelu", saeWidth: 48 });
    expect(m.sparseHead.tap).toMatch(/^\/encoder\/layer\.1\/output\//);
    // Pruned: nothing of layer 2 or the pooler is left.
    const graph = decodeModel(await import("node:fs/promises").then((f) => f.readFile(pack.path(m.encoder.sparseFile!))));
    expect(graph.graph.node.some((n) => /layer\.2\/|pooler/.test(n.name))).toBe(false);
    expect(graph.graph.input.map((i) => i.name)).toEqual(["input_ids", "attention_mask", "top_k", "text_of_window", "text_count"]);

    const encoder = await sparseEncoder(pack);
    expect(encoder.windows(TEXTS[3]!).length).toBeGreaterThan(1);
    const scale = Math.sqrt(16) / 3;
    for (const kind of ["document", "query"] as const) {
      const vectors = await encoder.encodeSparse(TEXTS, kind);
      TEXTS.forEach((text, i) => {
        const expected = reference(encoder, model, 1, sae, scale, { kind: "jumprelu", threshold: new Float32Array(48).fill(0.15) }, text, kind, m.topK[kind], new Set([2, 3]));
        expectMatches(vectors[i]!, expected, 2e-4);
      });
    }
    // The query prefix is read: a query and a document of the same text differ.
    const [q] = await encoder.encodeSparse([TEXTS[1]!], "query", 24);
    const [d] = await encoder.encodeSparse([TEXTS[1]!], "document", 24);
    expect(Array.from(q!.weights)).not.toEqual(Array.from(d!.weights));
  });

  it("int8-all runs the encoder's matrix products in integers and stays close to the reference", async () => {
    const sae = randomSae(16, 48, 9);
    const file = await writeGemmaScope(join(dir, "gemma-scope-bert", "layer_2"), sae);
    const pack = await buildPack({ onnx, tokenizer, sae: file, out: join(dir, "pack-bert-int8"), precision: "int8-all", maxTokens: 32, topK: { query: 8, document: 8 } });
    expect(pack.manifest.sparseHead).toMatchObject({ layer: 2, precision: "int8-all" }); // the layer read off the SAE's path
    const graph = decodeModel(await import("node:fs/promises").then((f) => f.readFile(pack.path(pack.manifest.encoder.sparseFile!))));
    expect(graph.graph.node.filter((n) => n.op_type === "MatMulInteger").length).toBeGreaterThan(10);
    const encoder = await sparseEncoder(pack);
    const vectors = await encoder.encodeSparse(TEXTS, "document");
    let shared = 0;
    let total = 0;
    TEXTS.forEach((text, i) => {
      const expected = reference(encoder, model, 2, sae, 1, { kind: "jumprelu", threshold: sae.threshold }, text, "document", 8, new Set([2, 3]));
      total += expected.size;
      for (const id of vectors[i]!.ids) if (expected.has(id)) shared++;
    });
    expect(shared / total).toBeGreaterThan(0.75);
  });

  it("trains its own SAE on a corpus's token states (--train-sae) and fuses it", async () => {
    const corpus = new URL("../../fixtures/workspace", import.meta.url).pathname;
    const lines: string[] = [];
    const pack = await buildPack({ onnx, tokenizer, layer: 2, trainSae: { corpus, width: 64, k: 8, epochs: 10 }, out: join(dir, "pack-bert-trained"), maxTokens: 32, topK: { query: 8, document: 16 }, log: (l) => lines.push(l) });
    expect(pack.manifest.weights).toEqual(expect.arrayContaining(["sae.json", "sae-encoder.f16", "labels.json"]));
    expect(pack.manifest.sparseHead).toMatchObject({ layer: 2, activation: "relu", saeWidth: 64 });
    const meta = JSON.parse(await import("node:fs/promises").then((f) => f.readFile(pack.path("sae.json"), "utf8"))) as { training: { held_out_fve: number; train_tokens: number } };
    // Sixteen dimensions, 64 latents, 8 per token: a working trainer explains most of the variance.
    expect(meta.training.train_tokens).toBeGreaterThan(1000);
    expect(meta.training.held_out_fve).toBeGreaterThan(0.6);
    expect(lines.join("\n")).toMatch(/held-out FVE/);
    // The packed head reads the trained SAE exactly as the reference does (ReLU).
    const trained = await readSaeEncoder(pack.dir);
    const sae = { dim: 16, width: 64, wEnc: Float32Array.from(trained.wEnc as Uint16Array, fromHalf), bEnc: trained.bEnc, threshold: new Float32Array(64) };
    const bPre = trained.bPre;
    const scale = trained.meta.scale;
    const encoder = await sparseEncoder(pack);
    const vectors = await encoder.encodeSparse(TEXTS, "document");
    // ReLU is JumpReLU at θ = 0, once b_pre is folded into the bias: W(s·h − b) + c = W(s·h) + (c − W·b).
    const folded = { ...sae, bEnc: Float32Array.from(sae.bEnc, (c, j) => { let s = c; for (let d = 0; d < 16; d++) s -= sae.wEnc[j * 16 + d]! * bPre[d]!; return s; }) };
    TEXTS.forEach((text, i) => {
      expectMatches(vectors[i]!, reference(encoder, model, 2, folded, scale, { kind: "jumprelu", threshold: new Float32Array(64) }, text, "document", 16, new Set([2, 3])), 2e-4);
    });
  });

  it("refuses what it cannot build, with errors that say what to do", async () => {
    const sae = join(dir, "llama-scope-L1");
    await expect(buildPack({ onnx, tokenizer, layer: 7, sae, out: join(dir, "no-layer") })).rejects.toMatchObject({ code: ErrorCode.BadArgument, message: expect.stringMatching(/layer 7.*--tap/) });
    await expect(buildPack({ onnx, tokenizer, tap: "nope", sae, out: join(dir, "no-tap") })).rejects.toThrow(/no node of the graph produces nope/);
    // Layer 1's states are 16 wide; this SAE reads 24.
    const wide = await writeGemmaScope(join(dir, "gemma-wide", "layer_1"), randomSae(24, 32, 2));
    await expect(buildPack({ onnx, tokenizer, sae: wide, out: join(dir, "wide") })).rejects.toThrow(/does not run.*24 dims/);
    await expect(buildPack({ onnx, tokenizer, layer: 1, sae, out: join(dir, "pack-bert") })).rejects.toThrow(/exists and is not empty/);
    await expect(buildPack({ onnx, tokenizer: onnx, layer: 1, sae, out: join(dir, "bad-tok") })).rejects.toThrow(/tokenizer/);
  });
});

describe("a decoder-like encoder (BPE with <bos>, causal, position_ids, opset 17)", () => {
  let model: TinyBert;
  let onnx: string;
  let tokenizer: string;
  beforeAll(async () => {
    const tok = bpeTokenizer();
    model = tinyDecoder(tok.size);
    await mkdir(join(dir, "decoder"), { recursive: true });
    onnx = join(dir, "decoder", "model.onnx");
    tokenizer = join(dir, "decoder", "tokenizer.json");
    await writeFile(onnx, model.onnx);
    await writeFile(tokenizer, JSON.stringify(tok.json));
  });

  it("with a Gemma Scope SAE (params.npz, JumpReLU) matches the reference", async () => {
    const sae = randomSae(24, 64, 7);
    const file = await writeGemmaScope(join(dir, "gemma-scope", "layer_2", "width_64"), sae);
    const pack = await buildPack({ onnx, tokenizer, sae: file, out: join(dir, "pack-decoder"), maxTokens: 20, windowOverlap: 4, topK: { query: 10, document: 30 } });
    expect(pack.manifest.tokenizer).toMatchObject({ kind: "hf-tokenizer", prefix: [2], suffix: [] });
    expect(pack.manifest.sparseHead.tap).toMatch(/^\/model\/layers\.2\/Add_/);
    const encoder = await sparseEncoder(pack);
    const vectors = await encoder.encodeSparse(TEXTS, "document");
    TEXTS.forEach((text, i) => {
      expectMatches(vectors[i]!, reference(encoder, model, 2, sae, 1, { kind: "jumprelu", threshold: sae.threshold }, text, "document", 30, new Set([2])), 2e-4);
    });
  });

  it("with a Llama Scope TopK SAE keeps each token's k largest latents before pooling", async () => {
    const sae = await writeLlamaScope(join(dir, "llama-scope-topk"), randomSae(24, 40, 13), { act_fn: "topk", top_k: 4, averageNorm: 5, layer: 3 });
    const pack = await buildPack({ onnx, tokenizer, sae: join(dir, "llama-scope-topk"), out: join(dir, "pack-decoder-topk"), maxTokens: 20, topK: { query: 10, document: 30 } });
    expect(pack.manifest.sparseHead).toMatchObject({ layer: 3, activation: "topk" });
    const encoder = await sparseEncoder(pack);
    const vectors = await encoder.encodeSparse(TEXTS, "query");
    TEXTS.forEach((text, i) => {
      expectMatches(vectors[i]!, reference(encoder, model, 3, sae, Math.sqrt(24) / 5, { kind: "topk", k: 4 }, text, "query", 10, new Set([2])), 2e-4);
    });
  });

  it("takes weights stored as external data along, and gives the same vectors as inline weights", async () => {
    // As onnx.save_model(..., save_as_external_data=True) writes models over 2 GB: every
    // initializer of 1 KiB or more in model.onnx_data (small shape tensors stay inline).
    const model = decodeModel(await import("node:fs/promises").then((f) => f.readFile(onnx)));
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const t of model.graph.initializer) {
      const bytes = t.raw_data!;
      if (bytes.byteLength < 1024) continue;
      chunks.push(bytes);
      t.external_data = [{ key: "location", value: "model.onnx_data" }, { key: "offset", value: String(offset) }, { key: "length", value: String(bytes.byteLength) }];
      t.data_location = 1;
      delete t.raw_data;
      offset += bytes.byteLength;
    }
    await mkdir(join(dir, "decoder-external"), { recursive: true });
    await writeFile(join(dir, "decoder-external", "model.onnx"), encodeModel(model));
    await writeFile(join(dir, "decoder-external", "model.onnx_data"), Buffer.concat(chunks));
    const sae = join(dir, "gemma-scope", "layer_2", "width_64", "params.npz");
    const pack = await buildPack({ onnx: join(dir, "decoder-external", "model.onnx"), tokenizer, sae, out: join(dir, "pack-external"), maxTokens: 20, windowOverlap: 4, topK: { query: 10, document: 30 } });
    expect(pack.manifest.weights).toContain("model.onnx_data");
    const external = await sparseEncoder(pack);
    const inline = await sparseEncoder(await loadPack(join(dir, "pack-decoder")));
    const [a, b] = await Promise.all([external.encodeSparse(TEXTS, "document"), inline.encodeSparse(TEXTS, "document")]);
    expect(a.map((v) => Array.from(v.weights))).toEqual(b.map((v) => Array.from(v.weights)));
    // Data outside the model's folder is refused.
    for (const t of model.graph.initializer) if (t.external_data?.length) t.external_data[0]!.value = "../model.onnx_data";
    await writeFile(join(dir, "decoder-external", "escape.onnx"), encodeModel(model));
    await expect(buildPack({ onnx: join(dir, "decoder-external", "escape.onnx"), tokenizer, sae, out: join(dir, "pack-escape") })).rejects.toThrow(/beside the model only/);
  });

  it("refuses a graph that needs inputs Loupe cannot feed", async () => {
    const { GraphBuilder, DataType } = await import("../../daemon/src/model/onnx/graph.js");
    const g = new GraphBuilder("kv");
    g.input("input_ids", DataType.INT64, ["b", "t"]);
    const past = g.input("past_key_values.0.key", DataType.FLOAT, ["b", 2, "p", 8]);
    g.scope = "/model/layers.0";
    const y = g.op("Identity", [past]);
    g.scope = "";
    g.output("out", y, DataType.FLOAT, ["b", 2, "p", 8]);
    await writeFile(join(dir, "kv.onnx"), g.serialize(17, "test"));
    await expect(buildPack({ onnx: join(dir, "kv.onnx"), tokenizer, layer: 0, sae: join(dir, "gemma-scope", "layer_2", "width_64", "params.npz"), out: join(dir, "kv") })).rejects.toThrow(/past_key_values.*feature-extraction/);
  });
});
