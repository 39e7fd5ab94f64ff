// Tier: integration (real conversion, real ONNX sessions). One code path for every pack: the
// default pack rebuilt through `loupe pack build` from its own states graph, vocabulary and
// shipped SAE gives the same sparse graph, byte for byte, and the same vectors.
import { readFile } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_HEAD, DEFAULT_TOP_K, SHIPPED_SAE_DIR } from "../../daemon/src/model/default-pack.js";
import { Encoder } from "../../daemon/src/model/encoder.js";
import { buildPack } from "../../daemon/src/model/pack-build.js";
import { testPack } from "../support/default-pack.js";

const TEXTS = [
  "how do I read a file line by line",
  "export function parseConfig(path: string): Config {\n  return JSON.parse(readFileSync(path, 'utf8'));\n}",
  "The daemon watches workspace folders and keeps an inverted index on disk.",
  "a".repeat(3000), // many windows
];

const open: Encoder[] = [];
afterAll(async () => {
  for (const e of open) await e.close();
});

describe("the default pack through loupe pack build", () => {
  it("reproduces the shipped pack's sparse graph and vectors exactly", async () => {
    const shipped = await testPack();
    const m = shipped.manifest;
    const out = join(await mkdtemp(join(tmpdir(), "loupe-rebuild-")), "pack");
    const rebuilt = await buildPack({
      onnx: shipped.path(m.encoder.file!),
      tokenizer: shipped.path(m.tokenizer.file),
      tap: m.encoder.outputs.layer1!,
      sae: SHIPPED_SAE_DIR,
      out,
      precision: DEFAULT_HEAD,
      topK: DEFAULT_TOP_K,
      normalization: m.textNormalization,
      maxTokens: m.maxTokens,
      windowOverlap: m.windowOverlap,
    });
    expect(rebuilt.manifest.sparseHead).toMatchObject({ layer: m.sparseHead.layer, saeWidth: m.sparseHead.saeWidth, precision: DEFAULT_HEAD });
    const [a, b] = await Promise.all([readFile(shipped.path(m.encoder.sparseFile!)), readFile(rebuilt.path(rebuilt.manifest.encoder.sparseFile!))]);
    expect(Buffer.compare(a, b)).toBe(0);
    const encoders = await Promise.all([shipped, rebuilt].map((p) => Encoder.open(p, { graph: "sparse", provider: "cpu", batchSize: 8 })));
    open.push(...encoders);
    for (const kind of ["document", "query"] as const) {
      const [x, y] = await Promise.all(encoders.map((e) => e.encodeSparse(TEXTS, kind)));
      TEXTS.forEach((_, i) => {
        expect(x![i]!.ids.length).toBeGreaterThan(0);
        expect(Array.from(y![i]!.ids)).toEqual(Array.from(x![i]!.ids));
        expect(Array.from(y![i]!.weights)).toEqual(Array.from(x![i]!.weights));
      });
    }
  });
});
