// Tier: unit (real files in a temp folder). The model-pack loader's checks and messages.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { fingerprintFiles, loadPack, PACK_FORMAT } from "../../daemon/src/model/pack.js";

let dir: string;

async function writePack(overrides: Record<string, unknown> = {}): Promise<void> {
  await writeFile(join(dir, "model.onnx"), "not really onnx");
  await writeFile(join(dir, "vocab.json"), "[]");
  const manifest = {
    format: PACK_FORMAT,
    name: "test-pack",
    version: "1",
    fingerprint: await fingerprintFiles(dir, ["model.onnx", "vocab.json"]),
    source: "unit test",
    license: "MIT",
    tokenizer: { kind: "use-sentencepiece", file: "vocab.json" },
    encoder: { file: "model.onnx", outputs: { layer0: "a", layer1: "b", sentence: "c" } },
    maxTokens: 128,
    windowOverlap: 32,
    hiddenSize: 512,
    sparseHead: { layer: 1, saeWidth: null },
    topK: { query: 40, document: 400 },
    weights: ["model.onnx", "vocab.json"],
    ...overrides,
  };
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "loupe-pack-"));
});

describe("loadPack", () => {
  it("opens a valid pack", async () => {
    await writePack();
    const pack = await loadPack(dir);
    expect(pack.manifest.name).toBe("test-pack");
    expect(pack.path("model.onnx")).toBe(join(dir, "model.onnx"));
  });
  it("says when the folder is not a pack", async () => {
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_MISSING_FILE", message: expect.stringMatching(/no manifest\.json/) });
  });
  it("rejects a manifest that is not JSON", async () => {
    await writeFile(join(dir, "manifest.json"), "{ nope");
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_INVALID_MANIFEST" });
  });
  it("names the fields that are wrong", async () => {
    await writePack({ maxTokens: -1, tokenizer: { kind: "bpe", file: "vocab.json" } });
    await expect(loadPack(dir)).rejects.toThrow(/maxTokens.*tokenizer\.kind|tokenizer\.kind.*maxTokens/);
  });
  it("refuses other format versions with what to do", async () => {
    await writePack({ format: PACK_FORMAT + 1 });
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_UNSUPPORTED_VERSION", message: expect.stringMatching(/Upgrade Loupe/) });
  });
  it("reports a missing weight file by name", async () => {
    await writePack({ weights: ["model.onnx", "vocab.json", "sae.bin"] });
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_MISSING_FILE", message: expect.stringMatching(/missing sae\.bin/) });
  });
  it("detects a changed weight file through the fingerprint", async () => {
    await writePack();
    await writeFile(join(dir, "model.onnx"), (await readFile(join(dir, "model.onnx"), "utf8")) + "!");
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_FINGERPRINT_MISMATCH" });
  });
  it("requires the sparse head's parts together", async () => {
    await writePack({ encoder: { file: "model.onnx", sparseFile: "model.onnx", outputs: { layer0: "a", layer1: "b", sentence: "c" } } });
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_INVALID_MANIFEST", message: expect.stringMatching(/given together/) });
  });
  it("refuses file names that leave the pack folder", async () => {
    await writePack({ encoder: { file: "../model.onnx", outputs: { layer0: "a", layer1: "b", sentence: "c" } } });
    await expect(loadPack(dir)).rejects.toMatchObject({ code: "PACK_INVALID_MANIFEST" });
  });
});
