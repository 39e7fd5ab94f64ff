// Seals the shipped SAE folder: copies the training config and the corpus manifest beside the
// weights and writes `shipped.json` with the fingerprint of the weight files, which the
// default pack checks before building from them.
//
//   node train/dist/finalize.js [--sae DIR]
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SHIPPED_FILES, SHIPPED_MANIFEST } from "@loupe/daemon/model/default-pack";
import { fingerprintFiles } from "@loupe/daemon/model/pack";
import { loadConfig } from "./common.js";

const { values } = parseArgs({ options: { config: { type: "string" }, sae: { type: "string" } }, strict: true });
const config = await loadConfig();
const dir = resolve(values.sae ?? "daemon/packs/use-lite-en");
const corpusManifest = resolve(config.corpus.out).replace(/\.jsonl$/, ".manifest.json");
await copyFile(corpusManifest, join(dir, "corpus.manifest.json"));
await copyFile(config.path, join(dir, "train-config.json"));
const sae = JSON.parse(await readFile(join(dir, "sae.json"), "utf8")) as { layer: number; width: number; training: Record<string, unknown> };
const shipped = {
  name: "use-lite-en SAE head",
  fingerprint: await fingerprintFiles(dir, SHIPPED_FILES),
  files: SHIPPED_FILES,
  layer: sae.layer,
  width: sae.width,
  trainingConfig: "train-config.json",
  corpusManifest: "corpus.manifest.json",
  reproduce: "npm ci && npm run train:sae",
};
await writeFile(join(dir, SHIPPED_MANIFEST), JSON.stringify(shipped, null, 2) + "\n");
process.stderr.write(`sealed ${dir}: ${shipped.fingerprint}\n`);
