// What the daemon needs from a model: document and query vectors, a fingerprint for the index,
// and labels for explanations. `threadEncoder` runs the real ONNX encoder in worker threads (the
// daemon), `packEncoder` adapts one on the calling thread (`loupe eval`); unit tests pass a
// deterministic fake, so everything above the model runs without ONNX.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import type { Encoder, ProviderChoice, SparseVector } from "../model/encoder.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "../model/encoder-worker.js";
import { loadConceptLabels, loadLabels } from "../model/labels.js";
import type { ModelPack } from "../model/pack.js";
import { readableScripts } from "../model/readable-scripts.js";
import { packReads } from "../model/pack.js";

export interface ChunkEncoder {
  /** Identifies the vectors' space; an index built under another fingerprint is rebuilt. */
  readonly fingerprint: string;
  readonly name: string;
  readonly provider: string;
  /** Per-latent labels ("" or missing when unknown). */
  readonly labels: readonly string[] | null;
  /** The labels a hit's concepts may show: readable words only, "" otherwise (model/labels.ts); default `labels`. */
  readonly conceptLabels?: readonly string[] | null;
  /** The scripts the encoder can read (model/readable-scripts.ts); absent: every script (the latent channel is always trusted). */
  readonly readableScripts?: ReadonlySet<string>;
  /** Whether the encoder reads a language as written (model/pack.ts packReads); absent: English only. */
  readonly readsLanguage?: (language: string) => boolean;
  encodeDocuments(texts: readonly string[]): Promise<SparseVector[]>;
  encodeQuery(text: string, topK?: number): Promise<SparseVector>;
  /** A passage encoded as a document for a waiting client (`similar`); default: encodeDocuments. */
  encodePassage?(text: string): Promise<SparseVector>;
  close(): Promise<void>;
}

export async function packEncoder(encoder: Encoder): Promise<ChunkEncoder> {
  const labels = await loadLabels(encoder.pack);
  return {
    fingerprint: encoder.pack.manifest.fingerprint,
    name: encoder.pack.manifest.name,
    provider: encoder.provider,
    labels,
    conceptLabels: await loadConceptLabels(encoder.pack),
    readableScripts: encoder.readableScripts,
    readsLanguage: packReads(encoder.pack.manifest),
    encodeDocuments: (texts) => encoder.encodeSparse(texts, "document"),
    encodeQuery: async (text, topK) => (await encoder.encodeSparse([text], "query", topK))[0]!,
    close: () => encoder.close(),
  };
}

export interface ThreadEncoderOptions {
  provider?: ProviderChoice;
  /** CPU threads of the document encoder; default all cores. The query encoder uses one. */
  threads?: number;
  /** Windows per document run (the daemon uses 8: it bounds memory). */
  batchSize?: number;
  /** Quiet time after which the document worker is stopped to free its memory; default 60 s. */
  idleMs?: number;
  log?: (line: string) => void;
}

/**
 * The daemon's encoder: two worker threads (model/encoder-worker.ts), one for documents and one
 * for queries, each with its own session of the pack's fused graph. The event loop never runs a
 * session, so searches, watcher events and clients are served while a root indexes; and a query
 * never queues behind a document batch: its session runs beside the document one (one thread
 * against the documents' all). A worker that dies is started again on the next call.
 */
export async function threadEncoder(pack: ModelPack, o: ThreadEncoderOptions = {}): Promise<ChunkEncoder> {
  const log = o.log ?? (() => {});
  // Documents come in bursts (a new root, a branch switch): the worker keeps onnxruntime's memory
  // arena for speed and is stopped after a quiet minute, which hands that memory back (measured:
  // 524 MB resident after encoding, 196 MB once the workers ended); it starts again in about half
  // a second when documents come.
  const documents = new EncoderThread({ packDir: pack.dir, provider: o.provider ?? "auto", threads: o.threads ?? availableParallelism(), batchSize: o.batchSize ?? 32, memoryArena: true }, "documents", log, o.idleMs ?? 60_000);
  // Queries are small and come one at a time: no arena, so their session holds little memory.
  const queries = new EncoderThread({ packDir: pack.dir, provider: o.provider ?? "auto", threads: 1, batchSize: o.batchSize ?? 32, memoryArena: false }, "queries", log);
  const interactive = new Batcher(queries);
  const [provider] = await Promise.all([documents.ready(), queries.ready()]).catch(async (e: unknown) => {
    await Promise.all([documents.close(), queries.close()]);
    throw e;
  });
  return {
    fingerprint: pack.manifest.fingerprint,
    name: pack.manifest.name,
    provider: provider!,
    labels: await loadLabels(pack),
    conceptLabels: await loadConceptLabels(pack),
    readableScripts: await readableScripts(pack),
    readsLanguage: packReads(pack.manifest),
    encodeDocuments: (texts) => documents.encode("document", texts),
    encodeQuery: (text, topK) => interactive.encode("query", text, topK),
    encodePassage: (text) => interactive.encode("document", text),
    close: async () => {
      await Promise.all([documents.close(), queries.close()]);
    },
  };
}

/**
 * Requests for waiting clients, sent to one worker one at a time: queries that arrived while a
 * run was going go into the next run together (one session run for many short queries costs
 * little more than one), so 50 clients searching at once do not form a queue of 50 runs.
 */
class Batcher {
  private queue: Array<{ kind: "query" | "document"; text: string; topK: number | undefined; resolve: (v: SparseVector) => void; reject: (e: unknown) => void }> = [];
  private busy = false;

  constructor(private readonly thread: EncoderThread) {}

  encode(kind: "query" | "document", text: string, topK?: number): Promise<SparseVector> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, text, topK, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    // One run takes the first waiting request and, for a query, the other waiting queries of its
    // Top-K (up to 32: short texts, one run). A passage (up to 8,000 characters) runs alone.
    const { kind, topK } = this.queue[0]!;
    const run = kind === "query" ? this.queue.filter((r) => r.kind === kind && r.topK === topK).slice(0, 32) : [this.queue[0]!];
    this.queue = this.queue.filter((r) => !run.includes(r));
    try {
      const vectors = await this.thread.encode(kind, run.map((r) => r.text), topK);
      run.forEach((r, i) => r.resolve(vectors[i]!));
    } catch (e) {
      for (const r of run) r.reject(e);
    } finally {
      this.busy = false;
      void this.pump();
    }
  }
}

/** One encoder worker and its pending requests. */
class EncoderThread {
  private worker: Worker | null = null;
  private started: Promise<string> | null = null;
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  private next = 0;
  private closing = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly init: WorkerInit,
    private readonly name: string,
    private readonly log: (line: string) => void,
    /** Stop the worker after this long without requests (null: keep it). */
    private readonly idleMs: number | null = null,
  ) {}

  /** Starts the worker (again, after it died); resolves to the provider it runs on. */
  ready(): Promise<string> {
    this.started ??= new Promise<string>((resolve, reject) => {
      const worker = new Worker(new URL("../model/encoder-worker.js", import.meta.url), { workerData: this.init });
      this.worker = worker;
      worker.on("message", (m: WorkerReply) => {
        if ("ready" in m) {
          for (const line of m.log) this.log(`${this.name} ${line}`);
          return resolve(m.provider);
        }
        if (m.id === -1 && "error" in m) return reject(encoderError(m.error));
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        p.resolve(m);
      });
      const died = (why: string) => {
        // Only the current worker's end matters (an idle stop has already let go of its worker).
        if (this.worker !== worker) return;
        this.worker = null;
        this.started = null;
        const e = new LoupeError(ErrorCode.ProviderUnavailable, `the ${this.name} encoder thread stopped (${why}); the next request starts it again`);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        reject(e);
        if (!this.closing) this.log(e.message);
      };
      worker.on("error", (e) => died(e.message));
      worker.on("exit", (code) => died(`exit code ${code}`));
    });
    return this.started;
  }

  private async request(body: Omit<WorkerRequest, "id">): Promise<WorkerReply> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    await this.ready();
    const id = this.next++;
    try {
      return await new Promise<WorkerReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.worker!.postMessage({ id, ...body });
      });
    } finally {
      if (this.idleMs !== null && this.pending.size === 0 && !this.closing) {
        this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  /** Ends the worker (it starts again on the next request). */
  private async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.pending.size > 0) return;
    this.worker = null;
    this.started = null;
    await worker.terminate();
  }

  async encode(kind: "query" | "document", texts: readonly string[], topK?: number): Promise<SparseVector[]> {
    if (texts.length === 0) return [];
    const m = await this.request({ kind, texts: [...texts], ...(topK !== undefined ? { topK } : {}) });
    if ("error" in m) throw encoderError(m.error);
    if (!("ids" in m)) throw new Error("unexpected encoder reply");
    return m.ids.map((ids, i) => ({ ids, weights: m.weights[i]! }));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = this.worker;
    if (!worker) return;
    // Let the worker release its session, then end it.
    await this.request({ close: true }).catch(() => {});
    await worker.terminate();
  }
}

function encoderError(e: { code: string | null; message: string }): Error {
  return e.code ? new LoupeError(e.code as ErrorCode, e.message) : new Error(e.message);
}
