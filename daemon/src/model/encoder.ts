// The encoder runtime: one onnxruntime-node session per model pack, the pack's tokenizer, and
// length-bucketed batching. It turns texts into windows of token ids and windows into token
// states or sentence embeddings; it knows nothing about indexes or search.
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ort from "onnxruntime-node";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import type { ModelPack } from "./pack.js";
import { normalizeForEncoder } from "./normalize.js";
import { vocabularyScripts } from "../analysis/scripts.js";
import { HfTokenizer, UseTokenizer, windows, type TextTokenizer, type Vocabulary } from "./tokenizer.js";

/** Which execution provider runs the session. `auto` tries GPUs first and falls back to CPU. */
export type ProviderChoice = "auto" | "cpu" | "cuda" | "webgpu";
export type Provider = Exclude<ProviderChoice, "auto">;
export type OutputKind = "layer0" | "layer1" | "sentence" | "states";
export type TextKind = "query" | "document";

/** A pack's tokenizer and the vocabulary pieces it reads (for the scripts it can read). */
export async function openPackTokenizer(pack: ModelPack): Promise<{ tokenizer: TextTokenizer; pieces: string[] }> {
  const t = pack.manifest.tokenizer;
  if (t.kind === "use-sentencepiece") {
    const vocabulary = JSON.parse(await readFile(pack.path(t.file), "utf8")) as Vocabulary;
    return { tokenizer: new UseTokenizer(vocabulary), pieces: vocabulary.map(([piece]) => piece) };
  }
  const tokenizer = await HfTokenizer.open(pack.path(t.file), t.config ? pack.path(t.config) : undefined);
  return { tokenizer, pieces: tokenizer.pieces };
}

/** The encoder's sparse vectors list their latents strongest first. */
export type { SparseVector } from "../sparse-vector.js";
import type { SparseVector } from "../sparse-vector.js";

export interface EncoderOptions {
  /** Default `auto`. */
  provider?: ProviderChoice;
  /** Intra-op threads for the CPU provider; default: all cores (`os.availableParallelism()`). */
  threads?: number;
  /** Windows per session run; default 32 (range 1–256). Larger batches amortise per-run cost. */
  batchSize?: number;
  /**
   * The graph loaded at open (the provider is chosen by creating its session): `states`
   * (default; token states and sentence embeddings) or `sparse` (the fused head only, for
   * processes that only encode sparse vectors: the other graph is then loaded on first use).
   */
  graph?: "states" | "sparse";
  /**
   * Keep onnxruntime's CPU memory arena (default true). Off, every run returns its memory:
   * measured on the default pack, 20% slower document encoding (9.3 vs 11.7 chunks per
   * CPU-second) for 300 MB less resident memory; right for small, rare runs such as queries.
   */
  memoryArena?: boolean;
  /**
   * Let onnxruntime's intra-op threads spin while they wait for work (its default) instead of
   * sleeping. Default false: measured on the default pack (160 chunk-sized texts of vuejs/core,
   * 2 threads, 4 alternating rounds), spinning took 12.0 chunks per CPU-second against 14.1 when
   * sleeping, for 23.8 against 22.4 chunks per wall second: 6% faster for 17% more CPU, which on
   * a 2-core laptop is taken from searches, the watcher and the user's own work.
   */
  spinning?: boolean;
  log?: (line: string) => void;
}

export interface WindowOutput {
  /** Token states, `length × hiddenSize`, row-major (present when requested). */
  layer0?: Float32Array;
  layer1?: Float32Array;
  states?: Float32Array;
  sentence?: Float32Array;
  length: number;
}

// ORT's CUDA provider is a separate shared library that onnxruntime-node's postinstall fetches;
// WebGPU (Dawn) needs a Vulkan loader. `auto` only tries what is present, so CPU-only machines
// do not print native errors on every start.
function cudaLibraryPresent(): boolean {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("onnxruntime-node/package.json")), "bin", "napi-v6", process.platform, process.arch);
  return existsSync(join(dir, "libonnxruntime_providers_cuda.so"));
}

function vulkanPresent(): boolean {
  if (process.platform !== "linux") return process.platform === "win32" || process.platform === "darwin";
  const dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];
  const extra = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  return [...extra, ...dirs].some((d) => existsSync(join(d, "libvulkan.so.1")));
}

export function providerCandidates(choice: ProviderChoice): Provider[] {
  if (choice !== "auto") return [choice];
  const out: Provider[] = [];
  if (process.platform === "linux" && cudaLibraryPresent()) out.push("cuda");
  if (vulkanPresent()) out.push("webgpu");
  out.push("cpu");
  return out;
}

function sessionOptions(provider: Provider, threads: number, arena = true, spinning = false): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    enableCpuMemArena: arena,
    // Session config entries (onnxruntime_session_options_config_keys.h), flattened by the binding.
    ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } } }),
  };
}

export class Encoder {
  private sparseSession: Promise<ort.InferenceSession> | null = null;
  private statesSession: Promise<ort.InferenceSession> | null = null;

  private constructor(
    readonly pack: ModelPack,
    readonly provider: Provider,
    private readonly tokenizer: TextTokenizer,
    /** The scripts this encoder can read: those its vocabulary covers (analysis/scripts.ts). */
    readonly readableScripts: ReadonlySet<string>,
    readonly batchSize: number,
    private readonly threads: number,
    private readonly arena: boolean,
    private readonly spinning: boolean,
  ) {}

  static async open(pack: ModelPack, options: EncoderOptions = {}): Promise<Encoder> {
    const log = options.log ?? (() => {});
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256) {
      throw new LoupeError(ErrorCode.BadArgument, `batch size must be an integer in 1–256, got ${batchSize}`);
    }
    const threads = options.threads ?? availableParallelism();
    const { tokenizer, pieces } = await openPackTokenizer(pack);
    const sparse = options.graph === "sparse" || pack.manifest.encoder.file === undefined;
    if (sparse && pack.manifest.encoder.sparseFile === undefined) {
      throw new LoupeError(ErrorCode.BadArgument, `model pack ${pack.manifest.name} has no sparse head (no SAE); latent vectors are unavailable`);
    }
    const modelPath = pack.path(sparse ? pack.manifest.encoder.sparseFile! : pack.manifest.encoder.file!);
    const failures: string[] = [];
    for (const provider of providerCandidates(options.provider ?? "auto")) {
      try {
        const arena = options.memoryArena ?? true;
        const spinning = options.spinning ?? false;
        const session = await ort.InferenceSession.create(modelPath, sessionOptions(provider, threads, arena, spinning));
        log(`encoder: ${pack.manifest.name} on ${provider}${provider === "cpu" ? ` (${threads} threads)` : ""}`);
        const encoder = new Encoder(pack, provider, tokenizer, vocabularyScripts(pieces), batchSize, threads, arena, spinning);
        if (sparse) encoder.sparseSession = Promise.resolve(session);
        else encoder.statesSession = Promise.resolve(session);
        return encoder;
      } catch (e) {
        const reason = String((e as Error).message ?? e).split("\n")[0]!;
        failures.push(`${provider}: ${reason}`);
        log(`encoder: provider ${provider} unavailable (${reason}); trying the next one`);
      }
    }
    throw new LoupeError(
      ErrorCode.ProviderUnavailable,
      `no execution provider could run ${modelPath}: ${failures.join("; ")}. ` +
        "Use --provider cpu, or see the README for enabling CUDA.",
    );
  }

  get hiddenSize(): number {
    return this.pack.manifest.hiddenSize;
  }

  tokenize(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** The text as the encoder reads it (the pack's normalisation; see normalize.ts). */
  encoderText(text: string): string {
    return normalizeForEncoder(text, this.pack.manifest.textNormalization);
  }

  private readonly frames = new Map<TextKind, { before: number[]; after: number[] }>();

  /**
   * The ids around every window of a query or a document: a Hugging Face pack's special tokens
   * and its query or document prefix text (e5's "query: "); none for the default pack.
   */
  private frame(kind: TextKind): { before: number[]; after: number[] } {
    let f = this.frames.get(kind);
    if (!f) {
      const t = this.pack.manifest.tokenizer;
      if (t.kind === "use-sentencepiece") f = { before: [], after: [] };
      else {
        const prefixText = kind === "query" ? t.queryPrefix : t.documentPrefix;
        f = { before: [...t.prefix, ...(prefixText ? this.tokenizer.encode(prefixText) : [])], after: [...t.suffix] };
      }
      this.frames.set(kind, f);
    }
    return f;
  }

  /**
   * The encoder windows of `text` after normalisation: at most `maxTokens` ids each, frame
   * included, overlapping by `windowOverlap` of the text's own tokens.
   */
  windows(text: string, kind: TextKind = "document"): number[][] {
    const { before, after } = this.frame(kind);
    const room = this.pack.manifest.maxTokens - before.length - after.length;
    const ids = this.tokenizer.encode(this.encoderText(text));
    if (before.length === 0 && after.length === 0) return windows(ids, room, this.pack.manifest.windowOverlap);
    return windows(ids, room, Math.min(this.pack.manifest.windowOverlap, room - 1)).map((w) => [...before, ...w, ...after]);
  }

  /**
   * Runs windows through the session in batches of similar length (sorted, so padding stays
   * small) and returns one output per window, in input order.
   */
  async runWindows(input: readonly (readonly number[])[], kinds: readonly OutputKind[]): Promise<WindowOutput[]> {
    const max = this.pack.manifest.maxTokens;
    for (const w of input) {
      if (w.length === 0 || w.length > max) throw new LoupeError(ErrorCode.BadArgument, `window of ${w.length} tokens; expected 1–${max}`);
    }
    const order = input.map((_, i) => i).sort((a, b) => input[a]!.length - input[b]!.length);
    const out = new Array<WindowOutput>(input.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch = order.slice(start, start + this.batchSize);
      const results = await this.runBatch(batch.map((i) => input[i]!), kinds);
      batch.forEach((i, j) => (out[i] = results[j]!));
    }
    return out;
  }

  /** One session run over windows padded to the longest; no bucketing. */
  async runBatch(batch: readonly (readonly number[])[], kinds: readonly OutputKind[]): Promise<WindowOutput[]> {
    const b = batch.length;
    const { ids, mask, t } = padWindows(batch);
    const names = this.pack.manifest.encoder.outputs;
    const fetches = kinds.map((k) => {
      const name = names[k];
      if (!name) throw new LoupeError(ErrorCode.BadArgument, `model pack ${this.pack.manifest.name} has no ${k} output (it carries only the sparse head)`);
      return name;
    });
    const file = this.pack.manifest.encoder.file;
    if (file === undefined) throw new LoupeError(ErrorCode.BadArgument, `model pack ${this.pack.manifest.name} has no states graph (it carries only the sparse head)`);
    const session = await (this.statesSession ??= ort.InferenceSession.create(this.pack.path(file), sessionOptions(this.provider, this.threads, this.arena, this.spinning)));
    const result = await session.run(
      { input_ids: new ort.Tensor("int64", ids, [b, t]), attention_mask: new ort.Tensor("int64", mask, [b, t]) },
      fetches,
    );
    return batch.map((w, i) => {
      const o: WindowOutput = { length: w.length };
      for (const k of kinds) {
        const tensor = result[names[k]!]!;
        const data = tensor.data as Float32Array;
        const h = Number(tensor.dims[tensor.dims.length - 1]);
        o[k] = k === "sentence" ? data.slice(i * h, (i + 1) * h) : data.slice(i * t * h, (i * t + w.length) * h);
      }
      return o;
    });
  }

  get hasSparseHead(): boolean {
    return this.pack.manifest.encoder.sparseFile !== undefined;
  }

  /** The fused graph's session, created on first use with the provider the encoder runs on. */
  private sparse(): Promise<ort.InferenceSession> {
    this.sparseSession ??= ort.InferenceSession.create(this.pack.path(this.pack.manifest.encoder.sparseFile!), sessionOptions(this.provider, this.threads, this.arena, this.spinning));
    return this.sparseSession;
  }

  /**
   * Sparse latent vectors of `texts` through the fused head: log(1 + ReLU(SAE(h))) max-pooled
   * over every token of every window of a text, then the Top-K latents (default: the pack's
   * query or document K). Texts are batched whole (all windows of a text in one run) so the
   * pooling across windows happens inside the session; only ids and weights come back.
   */
  async encodeSparse(texts: readonly string[], kind: TextKind, topK?: number): Promise<SparseVector[]> {
    const names = this.pack.manifest.encoder.outputs;
    if (!this.hasSparseHead || !names.latentIds || !names.latentWeights) {
      throw new LoupeError(ErrorCode.BadArgument, `model pack ${this.pack.manifest.name} has no sparse head (no SAE); latent vectors are unavailable`);
    }
    const k = topK ?? this.pack.manifest.topK[kind];
    const width = this.pack.manifest.sparseHead.saeWidth!;
    if (!Number.isInteger(k) || k < 1 || k > width) throw new LoupeError(ErrorCode.BadArgument, `top-k must be an integer in 1–${width}, got ${k}`);
    const perText = texts.map((t) => this.windows(t, kind));
    const order = texts.map((_, i) => i).filter((i) => perText[i]!.length > 0);
    order.sort((a, b) => Math.max(...perText[a]!.map((w) => w.length)) - Math.max(...perText[b]!.map((w) => w.length)));
    const out: SparseVector[] = texts.map(() => ({ ids: new Uint32Array(0), weights: new Float32Array(0) }));
    for (let start = 0; start < order.length; ) {
      const batch: number[] = [];
      let rows = 0;
      while (start < order.length && (batch.length === 0 || rows + perText[order[start]!]!.length <= this.batchSize)) {
        rows += perText[order[start]!]!.length;
        batch.push(order[start++]!);
      }
      const windows = batch.flatMap((i) => perText[i]!);
      const owners = batch.flatMap((i, j) => perText[i]!.map(() => j));
      const { ids, mask, t } = padWindows(windows);
      const session = await this.sparse();
      const result = await session.run(
        {
          input_ids: new ort.Tensor("int64", ids, [rows, t]),
          attention_mask: new ort.Tensor("int64", mask, [rows, t]),
          top_k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
          text_of_window: new ort.Tensor("int64", BigInt64Array.from(owners, (o) => BigInt(o)), [rows]),
          text_count: new ort.Tensor("int64", BigInt64Array.of(BigInt(batch.length)), [1]),
        },
        [names.latentIds, names.latentWeights],
      );
      const latentIds = result[names.latentIds]!.data as BigInt64Array;
      const latentWeights = result[names.latentWeights]!.data as Float32Array;
      batch.forEach((textIndex, j) => {
        let n = 0;
        while (n < k && latentWeights[j * k + n]! > 0) n++;
        out[textIndex] = {
          ids: Uint32Array.from(latentIds.subarray(j * k, j * k + n), (v) => Number(v)),
          weights: latentWeights.slice(j * k, j * k + n),
        };
      });
    }
    return out;
  }

  /**
   * Sentence embeddings of `texts`, L2-normalised. A text longer than one window gets the
   * normalised mean of its windows' embeddings; an empty text gets the zero vector.
   */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const owner: number[] = [];
    const all: number[][] = [];
    texts.forEach((text, i) => {
      for (const w of this.windows(text)) {
        owner.push(i);
        all.push(w);
      }
    });
    const outputs = await this.runWindows(all, ["sentence"]);
    const h = this.hiddenSize;
    const sums = texts.map(() => new Float32Array(h));
    outputs.forEach((o, j) => {
      const sum = sums[owner[j]!]!;
      for (let c = 0; c < h; c++) sum[c]! += o.sentence![c]!;
    });
    for (const v of sums) normalize(v);
    return sums;
  }

  async close(): Promise<void> {
    if (this.statesSession) await (await this.statesSession).release();
    if (this.sparseSession) await (await this.sparseSession).release();
  }
}

/** Token windows as the graph's int64 inputs, right-padded to the longest window. */
function padWindows(windows: readonly (readonly number[])[]): { ids: BigInt64Array; mask: BigInt64Array; t: number } {
  const t = Math.max(...windows.map((w) => w.length));
  const ids = new BigInt64Array(windows.length * t);
  const mask = new BigInt64Array(windows.length * t);
  windows.forEach((w, r) => {
    for (let j = 0; j < w.length; j++) {
      ids[r * t + j] = BigInt(w[j]!);
      mask[r * t + j] = 1n;
    }
  });
  return { ids, mask, t };
}

export function normalize(v: Float32Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
}

/** The ORT version actually loaded (for logs and bench metadata). */
export function ortVersion(): string {
  const require = createRequire(import.meta.url);
  return (JSON.parse(readFileSync(require.resolve("onnxruntime-node/package.json"), "utf8")) as { version: string }).version;
}
