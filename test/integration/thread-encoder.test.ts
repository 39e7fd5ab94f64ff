// Tier: integration (real ONNX sessions on the default pack, in real worker threads). The
// daemon's encoder runs its sessions off the event loop; its vectors must be exactly the ones
// the same pack gives on the calling thread, a query must not wait for a document batch to
// finish, and a document worker stopped when idle starts again. The worker is the built file,
// so this imports from daemon/dist (`npm test` builds first).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packEncoder, threadEncoder, type ChunkEncoder } from "../../daemon/dist/core/chunk-encoder.js";
import { Encoder } from "../../daemon/dist/model/encoder.js";
import type { ModelPack } from "../../daemon/dist/model/pack.js";
import { testPack } from "../support/default-pack.js";

let pack: ModelPack;
let threaded: ChunkEncoder;
const texts = Array.from({ length: 40 }, (_, i) => `def retry_${i}(fn, attempts=5):\n    """Retry fn with exponential backoff, note ${i}."""\n`.repeat(1 + (i % 5)));

beforeAll(async () => {
  pack = (await testPack()) as unknown as ModelPack;
  threaded = await threadEncoder(pack, { provider: "cpu", batchSize: 8, idleMs: 300 });
});

afterAll(async () => {
  await threaded?.close();
});

describe("threadEncoder", () => {
  it("gives exactly the vectors of the same pack on the calling thread", async () => {
    const inline = await packEncoder(await Encoder.open(pack, { provider: "cpu", batchSize: 8 }));
    try {
      const [a, b] = [await threaded.encodeDocuments(texts), await inline.encodeDocuments(texts)];
      expect(a.map((v) => [...v.ids])).toEqual(b.map((v) => [...v.ids]));
      expect(a.map((v) => [...v.weights])).toEqual(b.map((v) => [...v.weights]));
      const [q, r] = [await threaded.encodeQuery("retry with exponential backoff", 20), await inline.encodeQuery("retry with exponential backoff", 20)];
      expect([...q.ids]).toEqual([...r.ids]);
      expect(q.ids.length).toBe(20);
      expect(threaded.fingerprint).toBe(inline.fingerprint);
      // The default pack's vocabulary is English pieces: its encoder reads Latin script only.
      expect(threaded.readableScripts).toEqual(new Set(["Latin"]));
      expect(inline.readableScripts).toEqual(new Set(["Latin"]));
    } finally {
      await inline.close();
    }
  });

  it("answers a query while a document batch is still encoding", async () => {
    let documentsDone = false;
    const documents = threaded.encodeDocuments([...texts, ...texts, ...texts]).then(() => (documentsDone = true));
    await new Promise((r) => setTimeout(r, 50));
    await threaded.encodeQuery("retry");
    expect(documentsDone).toBe(false);
    await documents;
  });

  it("starts the document worker again after stopping it when idle", async () => {
    const before = await threaded.encodeDocuments(texts.slice(0, 3));
    await new Promise((r) => setTimeout(r, 800)); // past idleMs: the worker is stopped
    const after = await threaded.encodeDocuments(texts.slice(0, 3));
    expect(after.map((v) => [...v.ids])).toEqual(before.map((v) => [...v.ids]));
  });
});
