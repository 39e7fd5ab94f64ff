// Tier: integration (real conversion and ONNX session). The fused sparse head inside the
// encoder graph (float and int8) against a plain JavaScript computation of the same formula, on
// a small random SAE: z = W_enc·(s·h − b_pre) + b_enc, u = max over all tokens of all windows of
// log(1 + ReLU(z)), Top-K.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { HeadPrecision } from "../../daemon/src/model/convert/sparse-head.js";
import { ensureDefaultPack } from "../../daemon/src/model/default-pack.js";
import { Encoder } from "../../daemon/src/model/encoder.js";
import { fromHalf, readSaeEncoder, toHalf, writeSaeEncoder, type SaeEncoder } from "../../daemon/src/model/sae-format.js";
import { TEST_CACHE } from "../support/default-pack.js";

const WIDTH = 96;
let sae: SaeEncoder;
const encoders: Record<HeadPrecision, Encoder> = {} as Record<HeadPrecision, Encoder>;
let encoder: Encoder; // the float head's: it also computes the reference's token states

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "loupe-sae-"));
  let seed = 3;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  await writeSaeEncoder(dir, {
    layer: 1, width: WIDTH, dim: 512, scale: 0.7,
    wEnc: Float32Array.from({ length: WIDTH * 512 }, () => (random() - 0.5) * 0.2),
    bEnc: Float32Array.from({ length: WIDTH }, () => (random() - 0.7) * 0.5),
    bPre: Float32Array.from({ length: 512 }, () => (random() - 0.5) * 0.1),
  }, { note: "test" });
  sae = await readSaeEncoder(dir);
  for (const head of ["float", "int8"] as const) {
    const pack = await ensureDefaultPack({ cacheDir: join(TEST_CACHE, "sparse-head-test"), saeDir: dir, head });
    expect(pack.manifest.sparseHead.precision).toBe(head);
    encoders[head] = await Encoder.open(pack, { provider: "cpu", batchSize: 8 });
  }
  encoder = encoders.float;
});

async function reference(text: string, k: number): Promise<Map<number, number>> {
  const windows = encoder.windows(text);
  const states = await encoder.runWindows(windows, ["layer1"]);
  const w = Float32Array.from(sae.wEnc, fromHalf);
  const u = new Float64Array(WIDTH);
  for (const s of states) {
    for (let t = 0; t < s.length; t++) {
      for (let j = 0; j < WIDTH; j++) {
        let z = sae.bEnc[j]!;
        for (let c = 0; c < 512; c++) z += w[j * 512 + c]! * (sae.meta.scale * s.layer1![t * 512 + c]! - sae.bPre[c]!);
        u[j] = Math.max(u[j]!, Math.log1p(Math.max(0, z)));
      }
    }
  }
  const ranked = [...u].map((v, j) => [j, v] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, k);
  return new Map(ranked);
}

describe("fused sparse head", () => {
  it("stores half floats faithfully", () => {
    expect([1, -2, 65504, 1e6, 2 ** -24].map(toHalf)).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001]);
    // Round to nearest: relative error at most 2^-11 in the normal range.
    for (const v of [1, -2.5, 0.1, 1e-4, -3.14159, 1234.5]) expect(Math.abs(fromHalf(toHalf(v)) - v) / Math.abs(v)).toBeLessThanOrEqual(2 ** -11);
  });
  it("matches the formula for short and multi-window texts, batched together (float head)", async () => {
    const texts = ["open a database connection", "", "The light turns all night over the harbour. ".repeat(40), "fetchUserProfile(id)"];
    const k = 12;
    const got = await encoder.encodeSparse(texts, "document", k);
    expect(encoder.windows(texts[2]!).length).toBeGreaterThan(1);
    expect(got[1]!.ids.length).toBe(0);
    for (const i of [0, 2, 3]) {
      const want = await reference(texts[i]!, k);
      expect(got[i]!.ids.length).toBe(want.size);
      for (let r = 0; r < got[i]!.ids.length; r++) {
        expect(want.has(got[i]!.ids[r]!)).toBe(true);
        expect(got[i]!.weights[r]!).toBeCloseTo(want.get(got[i]!.ids[r]!)!, 3);
        if (r > 0) expect(got[i]!.weights[r]!).toBeLessThanOrEqual(got[i]!.weights[r - 1]!);
      }
    }
  });
  it("the int8 head stays within quantisation error of the formula", async () => {
    const texts = ["open a database connection", "", "The light turns all night over the harbour. ".repeat(40), "fetchUserProfile(id)"];
    const k = 12;
    const got = await encoders.int8.encodeSparse(texts, "document", k);
    expect(got[1]!.ids.length).toBe(0);
    for (const i of [0, 2, 3]) {
      const want = await reference(texts[i]!, k);
      const top = Math.max(...want.values());
      // Latents near the K-th weight may swap places; the strong ones may not.
      const shared = [...got[i]!.ids].filter((id) => want.has(id));
      expect(shared.length).toBeGreaterThanOrEqual(k - 2);
      for (let r = 0; r < got[i]!.ids.length; r++) {
        const w = want.get(got[i]!.ids[r]!);
        if (w !== undefined) expect(Math.abs(got[i]!.weights[r]! - w)).toBeLessThanOrEqual(0.02 * top);
        if (r > 0) expect(got[i]!.weights[r]!).toBeLessThanOrEqual(got[i]!.weights[r - 1]!);
      }
    }
  });
  it("gives a text the same vector alone or batched with others, bit for bit (both heads)", async () => {
    // Two clients' queries share a run of the query worker; their results must not depend on it.
    const texts = ["open a database connection", "The light turns all night over the harbour. ".repeat(8), "fetchUserProfile(id)", "x"];
    for (const head of ["float", "int8"] as const) {
      const batched = await encoders[head].encodeSparse(texts, "document", 12);
      for (let i = 0; i < texts.length; i++) {
        const [alone] = await encoders[head].encodeSparse([texts[i]!], "document", 12);
        expect({ head, i, ids: [...alone!.ids], weights: [...alone!.weights] }).toEqual({ head, i, ids: [...batched[i]!.ids], weights: [...batched[i]!.weights] });
      }
    }
  });
  it("takes Top-K per call and refuses impossible K", async () => {
    const [a] = await encoder.encodeSparse(["configuration file parser"], "query", 3);
    expect(a!.ids.length).toBeLessThanOrEqual(3);
    await expect(encoder.encodeSparse(["x"], "query", WIDTH + 1)).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
  });
});
