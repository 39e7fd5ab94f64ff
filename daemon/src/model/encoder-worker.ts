// The encoder in a worker thread: onnxruntime-node runs a session synchronously on the thread
// that calls it, so the daemon keeps its encoders here and its event loop stays free for
// searches, watcher events and clients. One worker holds one session of the pack's fused sparse
// graph and answers `encode` messages in arrival order; vectors come back as transferred buffers.
// The main-thread side is `threadEncoder` in core/chunk-encoder.ts.
import { parentPort, workerData } from "node:worker_threads";
import { isLoupeError } from "@loupe/protocol";
import { Encoder, type ProviderChoice } from "./encoder.js";
import { loadPack } from "./pack.js";

export interface WorkerInit {
  packDir: string;
  provider: ProviderChoice;
  threads: number;
  batchSize: number;
  memoryArena: boolean;
}

export type WorkerRequest = { id: number; kind: "query" | "document"; texts: string[]; topK?: number } | { id: number; close: true };

export type WorkerReply =
  | { ready: true; provider: string; log: string[] }
  | { id: number; ids: Uint32Array[]; weights: Float32Array[] }
  | { id: number; error: { code: string | null; message: string } };

const port = parentPort!;
const init = workerData as WorkerInit;
const lines: string[] = [];
try {
  const encoder = await Encoder.open(await loadPack(init.packDir), {
    provider: init.provider, threads: init.threads, batchSize: init.batchSize, memoryArena: init.memoryArena, graph: "sparse", log: (l) => lines.push(l),
  });
  port.on("message", (m: WorkerRequest) => {
    if ("close" in m) {
      void encoder.close().finally(() => port.postMessage({ id: m.id, ids: [], weights: [] } satisfies WorkerReply));
      return;
    }
    encoder.encodeSparse(m.texts, m.kind, m.topK).then(
      (vectors) => {
        const ids = vectors.map((v) => v.ids);
        const weights = vectors.map((v) => v.weights);
        port.postMessage({ id: m.id, ids, weights } satisfies WorkerReply, [...ids.map((a) => a.buffer as ArrayBuffer), ...weights.map((a) => a.buffer as ArrayBuffer)]);
      },
      (e: unknown) => port.postMessage({ id: m.id, error: { code: isLoupeError(e) ? e.code : null, message: (e as Error).message } } satisfies WorkerReply),
    );
  });
  port.postMessage({ ready: true, provider: encoder.provider, log: lines } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ id: -1, error: { code: isLoupeError(e) ? e.code : null, message: `${(e as Error).message}${lines.length ? ` (${lines.join("; ")})` : ""}` } } satisfies WorkerReply);
}
