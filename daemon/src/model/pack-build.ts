// `loupe pack build`: a model pack from any ONNX encoder and an SAE, offline. The encoder's graph
// goes through the same surgery as the default pack's (onnx/surgery.ts: tap a layer, prune,
// fuse the SAE head); the tokenizer is the model's own tokenizer.json (or USE's vocabulary);
// the SAE is Loupe's own or a published one (sae-import.ts). The pack is written into a
// temporary folder, checked by encoding a probe text through a real session, and only then
// renamed into place, so a failed build never leaves a pack behind.
import { existsSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import type { HeadPrecision } from "./convert/sparse-head.js";
import { fsyncPath } from "./default-pack.js";
import { Encoder, type ProviderChoice } from "./encoder.js";
import type { TextNormalization } from "./normalize.js";
import { countLayers, exposeStates, findLayerOutput, fuseSparseHead, readOnnx, STATES_OUTPUT } from "./onnx/surgery.js";
import type { ModelMessage } from "./onnx/proto.js";
import { readSaeEncoder, SAE_ENCODER_FILE, SAE_META_FILE, writeSaeEncoder, type SaeEncoder } from "./sae-format.js";
import { seededRandom, shuffle, trainTopKSae } from "./sae-train.js";
import { fingerprintFiles, loadPack, PACK_FORMAT, type Manifest, type ModelPack } from "./pack.js";
import { importSae, type SaeFormat } from "./sae-import.js";
import { HfTokenizer, specialFrame } from "./tokenizer.js";
import { readWorkspaceFile, walkWorkspace } from "../workspace/ignore.js";

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
  /** The SAE to import (a Loupe SAE folder, Gemma Scope params.npz, Llama Scope folder)… */
  sae?: string;
  saeFormat?: SaeFormat;
  /** …or train one on the tapped states of a corpus (Loupe's TopK trainer, model/sae-train.ts). */
  trainSae?: TrainSaeOptions;
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
  /** Languages the encoder reads as written (ISO 639-1, or "*"); default English only (see Manifest.languages). */
  languages?: string[];
  /** A folder of text files whose words label the latents (see `deriveLabels`). */
  labelsCorpus?: string;
  labelWords?: number;
  provider?: ProviderChoice;
  license?: string;
  log?: (line: string) => void;
}

export interface TrainSaeOptions {
  /** A folder of text files (code, notes) whose token states the SAE learns. */
  corpus: string;
  /** Latents (default 4096). */
  width?: number;
  /** Latents per token while training (default 32). */
  k?: number;
  /** Most token states to train on (default 200,000; fewer when 256 MiB cannot hold them). */
  tokens?: number;
  epochs?: number;
  seed?: number;
}

/** What `--train-sae` trains with unless told otherwise; the rest as train/config/sae.json. */
export const TRAIN_SAE_DEFAULTS = { width: 4096, k: 32, tokens: 200_000, epochs: 2, seed: 20261123, auxK: 64, auxCoef: 1 / 32, batch: 1024, lr: 8e-4 } as const;
const STATES_MEMORY = 256 * 2 ** 20;

/** SPLARE's Top-K: 40 latents per query, 400 per document. */
export const BUILD_TOP_K = { query: 40, document: 400 } as const;
const SPARSE_FILE = "sparse.onnx";
const STATES_FILE = "states.onnx";
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
  if ((o.sae === undefined) === (o.trainSae === undefined)) bad("pack build needs either --sae PATH (an SAE to import) or --train-sae --corpus DIR (train one)");
  const imported = o.sae !== undefined ? await importSae(resolve(o.sae), o.saeFormat).catch((e: Error) => bad(e.message)) : null;
  if (imported) log(`SAE: ${imported.description}`);
  const saeLayer = imported?.layer ?? null;
  if (o.layer === undefined && o.tap === undefined && saeLayer === null) bad("pack build needs --layer N or --tap VALUE (the token states the SAE reads; this SAE's files do not say its layer)");
  const width = imported?.sae.meta.width ?? o.trainSae?.width ?? TRAIN_SAE_DEFAULTS.width;
  const topK = o.topK ?? { query: Math.min(BUILD_TOP_K.query, width), document: Math.min(BUILD_TOP_K.document, width) };
  if (topK.document > width || topK.query > width) bad(`top-k ${topK.query}/${topK.document} exceeds the SAE's ${width} latents`);
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

  const surgery = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      return bad((e as Error).message);
    }
  };
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const takeExternal = async (files: string[]) => {
      for (const f of files) {
        if (existsSync(join(tmp, f))) continue;
        const from = join(source.dir, f);
        if (!existsSync(from)) bad(`the model's weights live in ${f}, which is not beside ${o.onnx}`);
        // A hard link where the file system allows it: LLM weights are gigabytes.
        await link(from, join(tmp, f)).catch(() => copyFile(from, join(tmp, f)));
      }
    };
    const tokenizerFile = useVocabulary ? "vocab.json" : "tokenizer.json";
    await copyFile(resolve(o.tokenizer), join(tmp, tokenizerFile));
    if (o.tokenizerConfig) await copyFile(resolve(o.tokenizerConfig), join(tmp, "tokenizer_config.json"));
    const tokenizerManifest: Manifest["tokenizer"] = useVocabulary
      ? { kind: "use-sentencepiece", file: tokenizerFile }
      : {
          kind: "hf-tokenizer",
          file: tokenizerFile,
          ...(o.tokenizerConfig ? { config: "tokenizer_config.json" } : {}),
          prefix: frame.prefix,
          suffix: frame.suffix,
          queryPrefix: o.queryPrefix ?? "",
          documentPrefix: o.documentPrefix ?? "",
        };
    const trainedFiles: string[] = [];
    let sae = imported?.sae;
    let description = imported?.description ?? "";
    if (!sae) {
      const trained = await trainOnCorpus({ tmp, source: source.model, tap: tap!, layer, takeExternal, tokenizer: tokenizerManifest, tokenizerFiles: [tokenizerFile, ...(o.tokenizerConfig ? ["tokenizer_config.json"] : [])], normalization: o.normalization ?? "none", maxTokens, train: o.trainSae!, provider: o.provider ?? "cpu", log, surgery });
      sae = trained.sae;
      description = trained.description;
      trainedFiles.push(...trained.files);
    }
    const fused = surgery(() => fuseSparseHead(source.model, { tap: tap!, sae: sae!, precision, poolExclude: [...frame.prefix, ...frame.suffix], log }));
    log(`graph: kept ${fused.kept} of ${fused.total} nodes up to ${tap}; SAE head fused (${precision})`);
    await writeFile(join(tmp, SPARSE_FILE), fused.bytes);
    await takeExternal(fused.externalFiles);
    const name = o.name ?? basename(dirname(resolve(o.onnx)));
    const weights = [SPARSE_FILE, ...fused.externalFiles, tokenizerFile, ...(o.tokenizerConfig ? ["tokenizer_config.json"] : []), ...trainedFiles];
    const manifest = (): Manifest => ({
      format: PACK_FORMAT,
      name,
      version: `built-${new Date().toISOString().slice(0, 10)}`,
      fingerprint: "sha256:" + "0".repeat(64),
      source: `${basename(o.onnx)} (layer ${layer}: ${tap}) with ${description}, built by loupe pack build`,
      license: o.license ?? "see the encoder's and the SAE's own licences",
      tokenizer: tokenizerManifest,
      encoder: { sparseFile: SPARSE_FILE, outputs: { latentIds: "latent_ids", latentWeights: "latent_weights" } },
      textNormalization: o.normalization ?? "none",
      ...(o.languages ? { languages: o.languages } : {}),
      maxTokens,
      windowOverlap: overlap,
      hiddenSize: sae!.meta.dim,
      sparseHead: { layer, tap: tap!, activation: sae!.activation.kind, saeWidth: sae!.meta.width, precision },
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
      bad(`the built graph does not run: ${e.message.split("\n")[0]!.replace(/ Use --provider cpu.*$/, "")} (do the tapped states, ${tap}, have the SAE's ${sae!.meta.dim} dims?)`);
    const encoder = await Encoder.open(await loadPack(tmp), { graph: "sparse", provider: o.provider ?? "cpu", threads: 1 }).catch(doesNotRun);
    try {
      const [probe] = await encoder.encodeSparse(["Loupe checks a new pack by encoding this sentence."], "document").catch(doesNotRun);
      log(`probe: ${probe!.ids.length} active latents`);
      const labelsCorpus = o.labelsCorpus ?? o.trainSae?.corpus;
      if (labelsCorpus) {
        const labels = await deriveLabels(encoder, resolve(labelsCorpus), o.labelWords ?? 5000, log);
        await writeFile(join(tmp, LABELS_FILE), JSON.stringify({ source: `words of ${relative(process.cwd(), resolve(labelsCorpus)) || "."}`, labels }) + "\n");
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
    await fsyncPath(dirname(out));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const size = (await Promise.all((await readdir(out)).map(async (f) => (await stat(join(out, f))).size))).reduce((a, b) => a + b, 0);
  log(`pack ${out} ready: ${(size / 2 ** 20).toFixed(1)} MB, ${imported ? `${imported.format} SAE` : "SAE trained here"}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return loadPack(out);
}

interface TrainContext {
  tmp: string;
  source: ModelMessage;
  tap: string;
  layer: number;
  takeExternal: (files: string[]) => Promise<void>;
  tokenizer: Manifest["tokenizer"];
  tokenizerFiles: string[];
  normalization: TextNormalization;
  maxTokens: number;
  train: TrainSaeOptions;
  provider: ProviderChoice;
  log: (line: string) => void;
  surgery: <T>(f: () => T) => T;
}

/**
 * `--train-sae`: the encoder's states graph (onnx/surgery.ts exposeStates) runs over the
 * corpus's text files in windows without overlap; the tapped states of every token but the
 * special ones train a TopK SAE (model/sae-train.ts, as the default pack's was, on fewer
 * tokens), 1 file in 50 held out for the reported fraction of variance explained. The SAE is
 * written into the pack in Loupe's format (so `--sae PACK_DIR` reuses it) and, like the default
 * pack's, read through ReLU at search time.
 */
async function trainOnCorpus(c: TrainContext): Promise<{ sae: SaeEncoder; description: string; files: string[] }> {
  const settings = { ...TRAIN_SAE_DEFAULTS, ...c.train };
  if (!Number.isInteger(settings.k) || settings.k < 1 || settings.k > settings.width / 2) bad(`--sae-k must be an integer in 1–${settings.width / 2}, got ${settings.k}`);
  const states = c.surgery(() => exposeStates(c.source, c.tap, c.log));
  await writeFile(join(c.tmp, STATES_FILE), states.bytes);
  await c.takeExternal(states.externalFiles);
  const weights = [STATES_FILE, ...states.externalFiles, ...c.tokenizerFiles];
  const manifest: Manifest = {
    format: PACK_FORMAT, name: "states", version: "0", fingerprint: await fingerprintFiles(c.tmp, weights), source: "loupe pack build --train-sae", license: "-",
    tokenizer: c.tokenizer, encoder: { file: STATES_FILE, outputs: { states: STATES_OUTPUT } }, textNormalization: c.normalization,
    maxTokens: c.maxTokens, windowOverlap: 0, hiddenSize: 1, sparseHead: { layer: c.layer, saeWidth: null }, topK: { query: 1, document: 1 }, weights,
  };
  await writeFile(join(c.tmp, "manifest.json"), JSON.stringify(manifest));
  const encoder = await Encoder.open(await loadPack(c.tmp), { provider: c.provider, batchSize: 16 });
  const special = new Set(c.tokenizer.kind === "hf-tokenizer" ? [...c.tokenizer.prefix, ...c.tokenizer.suffix] : []);
  const rows: Float32Array[] = [];
  const heldRows: Float32Array[] = [];
  let dim = 0;
  let budget = settings.tokens;
  let windows = 0;
  let f = -1;
  try {
    for await (const { text } of corpusTexts(resolve(c.train.corpus))) {
      f++;
      if (budget <= 0) break;
      const ws = encoder.windows(text, "document");
      for (let start = 0; start < ws.length && budget > 0; start += 16) {
        const batch = ws.slice(start, start + 16);
        const outputs = await encoder.runWindows(batch, ["states"]);
        outputs.forEach((out, w) => {
          const h = out.states!.length / out.length;
          if (dim === 0) {
            dim = h;
            budget = Math.min(budget, Math.floor(STATES_MEMORY / (4 * dim)));
          }
          batch[w]!.forEach((id, t) => {
            if (special.has(id) || budget <= 0) return;
            (f % 50 === 49 ? heldRows : rows).push(out.states!.slice(t * dim, (t + 1) * dim));
            budget--;
          });
        });
        windows += batch.length;
      }
    }
  } finally {
    await encoder.close();
    await rm(join(c.tmp, STATES_FILE));
    await rm(join(c.tmp, "manifest.json"));
  }
  if (heldRows.length === 0) heldRows.push(...rows.splice(0, Math.ceil(rows.length / 50)));
  // A small corpus still gets enough steps: batches shrink to a fiftieth of it (at least 64).
  const batch = Math.min(settings.batch, rows.length, Math.max(64, Math.floor(rows.length / 50)));
  if (rows.length < 4 * settings.k || batch < 1) bad(`${c.train.corpus} gave ${rows.length} token states; an SAE needs far more (a few thousand at least)`);
  c.log(`train-sae: ${rows.length} token states (+${heldRows.length} held out) of ${dim} dims from ${windows} windows; ${settings.width} latents, k ${settings.k}, ${settings.epochs} epochs`);
  const random = seededRandom(settings.seed);
  const all = [...rows, ...heldRows];
  const train = shuffle(rows.map((_, i) => i), random);
  const held = heldRows.map((_, i) => rows.length + i);
  const result = await trainTopKSae(dim, (t) => all[t]!, train, held, { width: settings.width, k: settings.k, auxK: Math.min(settings.auxK, settings.width), auxCoef: settings.auxCoef, deadAfterTokens: Math.max(batch, Math.floor(rows.length / 4)), batch, epochs: settings.epochs, lr: settings.lr }, random, (l) =>
    c.log(`train-sae: step ${l.step}/${l.totalSteps} · train FVE ${l.fve} · dead ${l.deadFraction} · ${l.seconds} s`),
  );
  const training = { trainer: "loupe pack build --train-sae", layer: c.layer, tap: c.tap, width: settings.width, k: settings.k, epochs: settings.epochs, train_tokens: rows.length, held_out_tokens: heldRows.length, held_out_fve: Math.round(result.heldOut.fve * 1e4) / 1e4, dead_fraction_held_out: Math.round(result.heldOut.deadFraction * 1e4) / 1e4, seconds: Math.round(result.seconds) };
  c.log(`train-sae: held-out FVE ${training.held_out_fve}, dead on held-out ${training.dead_fraction_held_out}, ${training.seconds} s`);
  const p = result.params;
  await writeSaeEncoder(c.tmp, { layer: c.layer, width: p.width, dim: p.dim, scale: p.scale, wEnc: p.wEnc, bEnc: p.bEnc, bPre: p.bPre }, training);
  return { sae: await readSaeEncoder(c.tmp), description: `a TopK SAE trained here (${p.width} latents over ${dim} dims, k ${settings.k}, held-out FVE ${training.held_out_fve})`, files: [SAE_META_FILE, SAE_ENCODER_FILE] };
}

/**
 * The texts of a corpus folder, read as Loupe reads a workspace (workspace/ignore.ts: its ignore
 * rules and defaults; binaries, files over 1 MiB and text that is not UTF-8 skipped).
 */
async function* corpusTexts(dir: string): AsyncGenerator<{ path: string; text: string }> {
  const { files } = await walkWorkspace(dir);
  for (const f of files) {
    const read = await readWorkspaceFile(join(dir, f.path));
    if ("text" in read && read.text !== undefined) yield { path: f.path, text: read.text };
  }
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
  let files = 0;
  for await (const { text } of corpusTexts(corpus)) {
    files++;
    for (const w of text.match(/\p{L}{3,}/gu) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
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
  log(`labels: ${words.length} words from ${files} files; ${labels.filter(Boolean).length} of ${width} latents labelled`);
  return labels;
}

