// `loupe pack build`: a model pack from any ONNX encoder and an SAE, offline. The encoder's graph
// goes through the same surgery as the default pack's (onnx/surgery.ts: tap a layer, prune,
// fuse the SAE head); the tokenizer is the model's own tokenizer.json (or USE's vocabulary);
// the SAE is Loupe's own or a published one (sae-import.ts). The pack is written into a
// temporary folder, checked by encoding a probe text through a real session, and only then
// renamed into place, so a failed build never leaves a pack behind.
import { createReadStream, existsSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import type { HeadPrecision } from "./convert/sparse-head.js";
import { Encoder, type ProviderChoice } from "./encoder.js";
import type { TextNormalization } from "./normalize.js";
import { countLayers, findLayerOutput, fuseSparseHead, readOnnx } from "./onnx/surgery.js";
import { fingerprintFiles, loadPack, PACK_FORMAT, type Manifest, type ModelPack } from "./pack.js";
import { importSae, type SaeFormat } from "./sae-import.js";
import { HfTokenizer, specialFrame } from "./tokenizer.js";

export interface BuildOptions {
  /** The encoder as ONNX (external data files beside it are taken along). */
  onnx: string;
  /** tokenizer.json (Hugging Face), or a USE vocabulary (vocab.json, [piece, score] pairs). */
  tokenizer: string;
  tokenizerConfig?: string;
  /** The layer whose output states the SAE reads (found by the exporter's scope names)… */
  layer?: number;
  /** …or the graph value holding them. */
  tap?: string;
  sae: string;
  saeFormat?: SaeFormat;
  out: string;
  name?: string;
  precision?: HeadPrecision;
  topK?: { query: number; document: number };
  /** Longest window, special tokens and prefixes included (default 256; 128 for USE vocabularies). */
  maxTokens?: number;
  windowOverlap?: number;
  queryPrefix?: string;
  documentPrefix?: string;
  normalization?: TextNormalization;
  /** A folder of text files whose words label the latents (see `deriveLabels`). */
  labelsCorpus?: string;
  labelWords?: number;
  provider?: ProviderChoice;
  license?: string;
  log?: (line: string) => void;
}

/** SPLARE's Top-K: 40 latents per query, 400 per document. */
export const BUILD_TOP_K = { query: 40, document: 400 } as const;
const SPARSE_FILE = "sparse.onnx";
const LABELS_FILE = "labels.json";

function bad(message: string): never {
  throw new LoupeError(ErrorCode.BadArgument, message);
}

async function isUseVocabulary(file: string): Promise<boolean> {
  const text = await readFile(file, "utf8").catch((e: Error) => bad(`cannot read the tokenizer ${file}: ${e.message}`));
  const first = text.trimStart()[0];
  if (first === "[") return true;
  if (first === "{") return false;
  bad(`${file} is neither a tokenizer.json nor a USE vocabulary (JSON expected)`);
}

async function fsyncDir(path: string): Promise<void> {
  const { open } = await import("node:fs/promises");
  const h = await open(path, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export async function buildPack(o: BuildOptions): Promise<ModelPack> {
  const log = o.log ?? (() => {});
  const out = resolve(o.out);
  if (existsSync(out) && (await readdir(out)).length > 0) bad(`${out} exists and is not empty; choose another --out or remove it`);
  const precision = o.precision ?? "float";
  const useVocabulary = await isUseVocabulary(o.tokenizer);
  const maxTokens = o.maxTokens ?? (useVocabulary ? 128 : 256);
  const overlap = o.windowOverlap ?? Math.min(32, Math.floor(maxTokens / 4));
  if (!Number.isInteger(maxTokens) || maxTokens < 8) bad(`--max-tokens must be an integer ≥ 8, got ${maxTokens}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= maxTokens / 2) bad(`--overlap must be an integer in 0–${Math.ceil(maxTokens / 2) - 1}, got ${overlap}`);

  const started = Date.now();
  const { sae, format, layer: saeLayer, description } = await importSae(resolve(o.sae), o.saeFormat).catch((e: Error) => bad(e.message));
  log(`SAE: ${description}`);
  if (o.layer === undefined && o.tap === undefined && saeLayer === null) bad("pack build needs --layer N or --tap VALUE (the token states the SAE reads; this SAE's files do not say its layer)");
  const topK = o.topK ?? { query: Math.min(BUILD_TOP_K.query, sae.meta.width), document: Math.min(BUILD_TOP_K.document, sae.meta.width) };
  if (topK.document > sae.meta.width || topK.query > sae.meta.width) bad(`top-k ${topK.query}/${topK.document} exceeds the SAE's ${sae.meta.width} latents`);
  const source = await readOnnx(resolve(o.onnx)).catch((e: Error) => bad(e.message));
  const layer = o.layer ?? saeLayer ?? 0;
  if (o.layer !== undefined && saeLayer !== null && o.layer !== saeLayer) log(`note: the SAE's files name layer ${saeLayer}; tapping layer ${o.layer} as asked`);
  let tap = o.tap;
  if (tap === undefined) {
    tap = findLayerOutput(source.model, layer) ?? undefined;
    if (tap === undefined) bad(`no node of ${o.onnx} is named for layer ${layer} (exporters name them like /encoder/layer.${layer}/… or /model/layers.${layer}/…); name the value with --tap (loupe pack build --list-values --onnx FILE lists them)`);
    const layers = countLayers(source.model);
    log(`layer ${layer}${layers ? ` of ${layers}` : ""}: tapping ${tap}`);
  }

  // Tokenizer and window frame.
  let frame = { prefix: [] as number[], suffix: [] as number[] };
  if (!useVocabulary) {
    const tokenizer = await HfTokenizer.open(resolve(o.tokenizer), o.tokenizerConfig ? resolve(o.tokenizerConfig) : undefined).catch((e: Error) => bad(e.message));
    frame = specialFrame(tokenizer);
    log(`tokenizer: ${basename(o.tokenizer)}; each window framed by ${frame.prefix.length} + ${frame.suffix.length} special tokens`);
  } else if (o.queryPrefix || o.documentPrefix) {
    bad("--query-prefix and --document-prefix need a Hugging Face tokenizer.json");
  }

  const fused = (() => {
    try {
      return fuseSparseHead(source.model, { tap: tap!, sae, precision, poolExclude: [...frame.prefix, ...frame.suffix], log });
    } catch (e) {
      return bad((e as Error).message);
    }
  })();
  log(`graph: kept ${fused.kept} of ${fused.total} nodes up to ${tap}; SAE head fused (${precision})`);

  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(join(tmp, SPARSE_FILE), fused.bytes);
    for (const f of fused.externalFiles) {
      const from = join(source.dir, f);
      if (!existsSync(from)) bad(`the model's weights live in ${f}, which is not beside ${o.onnx}`);
      // A hard link where the file system allows it: LLM weights are gigabytes.
      await link(from, join(tmp, f)).catch(() => copyFile(from, join(tmp, f)));
    }
    const tokenizerFile = useVocabulary ? "vocab.json" : "tokenizer.json";
    await copyFile(resolve(o.tokenizer), join(tmp, tokenizerFile));
    if (o.tokenizerConfig) await copyFile(resolve(o.tokenizerConfig), join(tmp, "tokenizer_config.json"));
    const name = o.name ?? basename(dirname(resolve(o.onnx)));
    const weights = [SPARSE_FILE, ...fused.externalFiles, tokenizerFile, ...(o.tokenizerConfig ? ["tokenizer_config.json"] : [])];
    const manifest = (): Manifest => ({
      format: PACK_FORMAT,
      name,
      version: `built-${new Date().toISOString().slice(0, 10)}`,
      fingerprint: "sha256:" + "0".repeat(64),
      source: `${basename(o.onnx)} (layer ${layer}: ${tap}) with ${description}, built by loupe pack build`,
      license: o.license ?? "see the encoder's and the SAE's own licences",
      tokenizer: useVocabulary
        ? { kind: "use-sentencepiece", file: tokenizerFile }
        : {
            kind: "hf-tokenizer",
            file: tokenizerFile,
            ...(o.tokenizerConfig ? { config: "tokenizer_config.json" } : {}),
            prefix: frame.prefix,
            suffix: frame.suffix,
            queryPrefix: o.queryPrefix ?? "",
            documentPrefix: o.documentPrefix ?? "",
          },
      encoder: { sparseFile: SPARSE_FILE, outputs: { latentIds: "latent_ids", latentWeights: "latent_weights" } },
      textNormalization: o.normalization ?? "none",
      maxTokens,
      windowOverlap: overlap,
      hiddenSize: sae.meta.dim,
      sparseHead: { layer, tap: tap!, activation: sae.activation.kind, saeWidth: sae.meta.width, precision },
      topK,
      weights,
    });
    const seal = async (m: Manifest) => {
      m.fingerprint = await fingerprintFiles(tmp, m.weights);
      await writeFile(join(tmp, "manifest.json"), JSON.stringify(m, null, 2) + "\n");
    };
    const m = manifest();
    await seal(m);

    // A real session, once: a graph that does not fit (states of another width than the SAE's,
    // an operator the runtime lacks) fails here rather than in the daemon.
    const doesNotRun = (e: Error): never =>
      bad(`the built graph does not run: ${e.message.split("\n")[0]!.replace(/ Use --provider cpu.*$/, "")} (do the tapped states, ${tap}, have the SAE's ${sae.meta.dim} dims?)`);
    const encoder = await Encoder.open(await loadPack(tmp), { graph: "sparse", provider: o.provider ?? "cpu", threads: 1 }).catch(doesNotRun);
    try {
      const [probe] = await encoder.encodeSparse(["Loupe checks a new pack by encoding this sentence."], "document").catch(doesNotRun);
      log(`probe: ${probe!.ids.length} active latents`);
      if (o.labelsCorpus) {
        const labels = await deriveLabels(encoder, resolve(o.labelsCorpus), o.labelWords ?? 5000, log);
        await writeFile(join(tmp, LABELS_FILE), JSON.stringify({ source: `words of ${relative(process.cwd(), resolve(o.labelsCorpus)) || "."}`, labels }) + "\n");
        m.labels = LABELS_FILE;
        m.weights.push(LABELS_FILE);
        await seal(m);
      }
    } finally {
      await encoder.close();
    }
    await mkdir(dirname(out), { recursive: true });
    if (existsSync(out)) await rm(out, { recursive: true });
    await rename(tmp, out);
    await fsyncDir(dirname(out));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const size = (await Promise.all((await readdir(out)).map(async (f) => (await stat(join(out, f))).size))).reduce((a, b) => a + b, 0);
  log(`pack ${out} ready: ${(size / 2 ** 20).toFixed(1)} MB, ${format} SAE, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return loadPack(out);
}

/**
 * Labels for an imported SAE, from a corpus: the corpus's most frequent words (letters only,
 * three or more) are encoded one by one as documents, and each latent is labelled by the words
 * that weigh most on it ("chain / lock / mutex"). Words alone lose their context, so the labels
 * are coarser than the default pack's (top-activating tokens in context), but they need no
 * access to the token states.
 */
export async function deriveLabels(encoder: Encoder, corpus: string, wordCount: number, log: (line: string) => void): Promise<string[]> {
  const counts = new Map<string, number>();
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) files.push(p);
    }
  };
  await walk(corpus);
  for (const f of files) {
    const lines = createInterface({ input: createReadStream(f, { encoding: "utf8" }), crlfDelay: Infinity });
    for await (const line of lines) for (const w of line.match(/\p{L}{3,}/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, wordCount).map(([w]) => w);
  if (words.length === 0) bad(`${corpus} has no words to label latents with`);
  const width = encoder.pack.manifest.sparseHead.saeWidth!;
  const best: Array<Array<[number, string]>> = Array.from({ length: width }, () => []);
  const batch = 256;
  for (let i = 0; i < words.length; i += batch) {
    const slice = words.slice(i, i + batch);
    const vectors = await encoder.encodeSparse(slice, "document", Math.min(32, width));
    vectors.forEach((v, j) => {
      for (let n = 0; n < v.ids.length; n++) {
        const list = best[v.ids[n]!]!;
        list.push([v.weights[n]!, slice[j]!]);
        if (list.length > 8) {
          list.sort((a, b) => b[0] - a[0]);
          list.length = 3;
        }
      }
    });
  }
  const labels = best.map((list) =>
    list
      .sort((a, b) => b[0] - a[0])
      .slice(0, 3)
      .map(([, w]) => w)
      .join(" / "),
  );
  log(`labels: ${words.length} words from ${files.length} files; ${labels.filter(Boolean).length} of ${width} latents labelled`);
  return labels;
}

