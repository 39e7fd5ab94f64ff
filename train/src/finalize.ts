// Seals the shipped SAE folder: copies the training configs and the manifests of the data they
// read beside the weights and writes `shipped.json` with the fingerprint of the weight files,
// which the default pack checks before building from them.
//
//   node train/dist/finalize.js [--sae DIR]                        after npm run train:sae
//   node train/dist/finalize.js --head CONFIG[,CONFIG…]           after the retrieval stages
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SHIPPED_FILES, SHIPPED_MANIFEST } from "@loupe/daemon/model/default-pack";
import { fingerprintFiles } from "@loupe/daemon/model/pack";
import { loadConfig } from "./common.js";

const { values } = parseArgs({ options: { config: { type: "string" }, sae: { type: "string" }, head: { type: "string" } }, strict: true });
const dir = resolve(values.sae ?? "daemon/packs/use-lite-en");
const sae = JSON.parse(await readFile(join(dir, "sae.json"), "utf8")) as { layer: number; width: number; training: Record<string, unknown> };
let extra: Record<string, string>;
if (values.head) {
  // The retrieval stage (issue 4): its config and the mined pairs' manifest. The reconstruction
  // stage's records stay beside them (train-config.json, corpus.manifest.json).
  const configs = values.head.split(",");
  const head = JSON.parse(await readFile(resolve(configs[0]!), "utf8")) as { states: string };
  const pairsManifest = resolve(head.states, "..", "pairs.manifest.json");
  await copyFile(pairsManifest, join(dir, "pairs.manifest.json"));
  const headConfigs = configs.map((_, i) => `train-head-stage${i + 1}-config.json`);
  for (const [i, c] of configs.entries()) await copyFile(resolve(c), join(dir, headConfigs[i]!));
  extra = {
    trainingConfig: "train-config.json",
    corpusManifest: "corpus.manifest.json",
    headConfigs: headConfigs.join(", "),
    pairsManifest: "pairs.manifest.json",
    reproduce: "npm ci && npm run train:head (see train/README.md for the Debian packages)",
  };
} else {
  const config = await loadConfig();
  const corpusManifest = resolve(config.corpus.out).replace(/\.jsonl$/, ".manifest.json");
  await copyFile(corpusManifest, join(dir, "corpus.manifest.json"));
  await copyFile(config.path, join(dir, "train-config.json"));
  extra = { trainingConfig: "train-config.json", corpusManifest: "corpus.manifest.json", reproduce: "npm ci && npm run train:sae" };
}
const shipped = {
  name: values.head ? "use-lite-en sparse head (SAE encoder trained for retrieval)" : "use-lite-en SAE head",
  fingerprint: await fingerprintFiles(dir, SHIPPED_FILES),
  files: SHIPPED_FILES,
  layer: sae.layer,
  width: sae.width,
  ...extra,
};
await writeFile(join(dir, SHIPPED_MANIFEST), JSON.stringify(shipped, null, 2) + "\n");
process.stderr.write(`sealed ${dir}: ${shipped.fingerprint}\n`);
