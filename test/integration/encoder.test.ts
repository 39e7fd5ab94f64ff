// Tier: integration (real ONNX session on the default pack). The encoder's contract around
// windows, batching and providers; numerical parity lives in reference/parity.
import { beforeAll, describe, expect, it } from "vitest";
import { Encoder, providerCandidates, type SparseVector } from "../../daemon/src/model/encoder.js";
import type { ModelPack } from "../../daemon/src/model/pack.js";
import { testPack } from "../support/default-pack.js";

let pack: ModelPack;
let encoder: Encoder;
beforeAll(async () => {
  pack = await testPack();
  encoder = await Encoder.open(pack, { provider: "cpu", batchSize: 4 });
});

describe("Encoder", () => {
  it("returns outputs in input order whatever the batching", async () => {
    const windows = [[10, 11, 12, 13, 14], [20], [30, 31], [40, 41, 42], [50, 51, 52, 53, 54, 55]];
    const batched = await encoder.runWindows(windows, ["sentence", "layer1"]);
    for (let i = 0; i < windows.length; i++) {
      const [alone] = await encoder.runBatch([windows[i]!], ["sentence", "layer1"]);
      expect(batched[i]!.length).toBe(windows[i]!.length);
      expect(batched[i]!.layer1!.length).toBe(windows[i]!.length * 512);
      // Padding must not leak into real positions.
      const diff = Math.max(...batched[i]!.sentence!.map((v, c) => Math.abs(v - alone!.sentence![c]!)));
      expect(diff).toBeLessThan(1e-4);
    }
  });
  it("embeds long texts through several windows and empty text as zero", async () => {
    const long = "The light turns all night over the harbour. ".repeat(80);
    expect(encoder.windows(long).length).toBeGreaterThan(3);
    const [v, empty] = await encoder.embed([long, ""]);
    const norm = Math.sqrt(v!.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(empty!.every((x) => x === 0)).toBe(true);
  });
  it("ranks a paraphrase above an unrelated sentence", async () => {
    const [q, near, far] = await encoder.embed(["how do I bake bread", "a recipe for baking a loaf of bread", "the stock market fell sharply"]);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(dot(q!, near!)).toBeGreaterThan(dot(q!, far!));
  });
  it("gives a document the same latent vector from any session, with two threads", async () => {
    // A head that scattered each token's product into its text with ScatterND (duplicate rows)
    // changed a few vectors from run to run with two threads; the daemon's document worker has two.
    const { readFile, readdir } = await import("node:fs/promises");
    const src = new URL("../../daemon/src/index/", import.meta.url).pathname;
    const texts: string[] = [];
    for (const f of (await readdir(src)).sort()) {
      const t = await readFile(src + f, "utf8");
      for (let i = 0; i < t.length && texts.length < 48; i += 1500) texts.push(t.slice(i, i + 1500));
    }
    const runs: SparseVector[][] = [];
    for (let r = 0; r < 2; r++) {
      const e = await Encoder.open(pack, { provider: "cpu", threads: 2, batchSize: 8, graph: "sparse" });
      runs.push(await e.encodeSparse(texts, "document"));
      await e.close();
    }
    const differing = texts.filter((_, i) => runs[0]![i]!.ids.join() !== runs[1]![i]!.ids.join() || runs[0]![i]!.weights.join() !== runs[1]![i]!.weights.join());
    expect(differing).toEqual([]);
  });
  it("rejects windows longer than the pack allows", async () => {
    await expect(encoder.runWindows([new Array(129).fill(7)], ["sentence"])).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
  });
  it("always ends the auto provider list with the CPU", () => {
    expect(providerCandidates("auto").at(-1)).toBe("cpu");
    expect(providerCandidates("cuda")).toEqual(["cuda"]);
  });
  it("explains when a requested GPU provider cannot start", async () => {
    if (providerCandidates("auto").includes("cuda")) return; // a CUDA machine: nothing to refuse
    await expect(Encoder.open(pack, { provider: "cuda" })).rejects.toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      message: expect.stringMatching(/--provider cpu/),
    });
  });
});
