// Tier: integration (real conversion into a temp cache). The default pack is built on first use
// in seconds, reused afterwards, and rebuilt when damaged; a backbone adapter beside the head is merged.
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BACKBONE_ADAPTER_FILE } from "../../daemon/src/model/backbone-adapter.js";
import { ensureDefaultPack, SHIPPED_SAE_DIR } from "../../daemon/src/model/default-pack.js";

describe("ensureDefaultPack", () => {
  it("converts once, reuses the result, and rebuilds a damaged one", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "loupe-cache-"));
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const started = performance.now();
    const first = await ensureDefaultPack({ cacheDir, log });
    console.log(`default pack conversion took ${Math.round(performance.now() - started)} ms`);
    expect(lines.some((l) => l.startsWith("converting"))).toBe(true);
    expect(first.dir.startsWith(join(cacheDir, "packs"))).toBe(true);
    // The shipped SAE is fused in, with its labels.
    expect(first.manifest.sparseHead).toEqual({ layer: 1, saeWidth: 16384, precision: "int8-all" });
    expect(first.manifest.encoder.sparseFile).toBe("sparse.onnx");
    expect(first.manifest.labels).toBe("labels.json");

    lines.length = 0;
    const again = await ensureDefaultPack({ cacheDir, log });
    expect(again.dir).toBe(first.dir);
    expect(lines).toEqual([]);

    await writeFile(first.path("model.onnx"), "damaged");
    const rebuilt = await ensureDefaultPack({ cacheDir, log });
    expect(lines.join("\n")).toMatch(/unusable .* rebuilding/);
    expect(rebuilt.manifest.fingerprint).toBe(first.manifest.fingerprint);
  });
});

describe("the shipped SAE", () => {
  it("refuses SAE files that differ from their seal", async () => {
    const copy = await mkdtemp(join(tmpdir(), "loupe-sae-"));
    await cp(SHIPPED_SAE_DIR, copy, { recursive: true });
    await writeFile(join(copy, "labels.json"), "{}");
    await expect(ensureDefaultPack({ cacheDir: await mkdtemp(join(tmpdir(), "loupe-cache-")), saeDir: copy })).rejects.toMatchObject({
      code: "PACK_FINGERPRINT_MISMATCH",
      message: expect.stringMatching(/git checkout -- daemon\/packs/),
    });
  });
});

describe("a head folder with a backbone adapter", () => {
  const bias = "module_apply_default/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat";
  async function headCopy(tensors: Record<string, unknown>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "loupe-adapter-"));
    for (const f of ["sae.json", "sae-encoder.f16"]) await cp(join(SHIPPED_SAE_DIR, f), join(dir, f));
    await writeFile(join(dir, BACKBONE_ADAPTER_FILE), JSON.stringify({ format: 1, rank: 1, tensors }));
    return dir;
  }

  it("builds a different pack with the adapter merged, and names a tensor the model lacks", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "loupe-cache-"));
    const value = Buffer.from(new Float32Array(512).fill(0.1).buffer).toString("base64");
    const plain = await headCopy({});
    const adapted = await headCopy({ [bias]: { kind: "replace", shape: [512], value } });
    const a = await ensureDefaultPack({ cacheDir, saeDir: plain });
    const b = await ensureDefaultPack({ cacheDir, saeDir: adapted });
    expect(b.manifest.source).toMatch(/LoRA adapter \(rank 1\) in backbone-lora\.json merged/);
    expect(b.manifest.fingerprint).not.toBe(a.manifest.fingerprint);

    const wrong = await headCopy({ "no/such/tensor": { kind: "replace", shape: [512], value } });
    await expect(ensureDefaultPack({ cacheDir, saeDir: wrong })).rejects.toThrow(/no\/such\/tensor/);
  });
});
