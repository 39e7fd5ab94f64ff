// Seals the shipped SAE folder: copies the training configs and the manifests of the data they
// read beside the weights and writes `shipped.json` with the fingerprint of the weight files,
// which the default pack checks before building from them.
//
//   node train/dist/finalize.js [--sae DIR]                        after npm run train:sae
//   node train/dist/finalize.js --head CONFIG[,CONFIG…] [--from DIR]   after the retrieval stages
// (--from: first copy the weight files of a trained folder, head and backbone adapter, into it)
import { copyFile, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { headFiles, SHIPPED_MANIFEST } from "@loupe/daemon/model/default-pack";
import { BACKBONE_ADAPTER_FILE } from "@loupe/daemon/model/backbone-adapter";
import { fingerprintFiles } from "@loupe/daemon/model/pack";
import { loadConfig } from "./common.js";

const { values } = parseArgs({ options: { config: { type: "string" }, sae: { type: "string" }, head: { type: "string" }, from: { type: "string" } }, strict: true });
const dir = resolve(values.sae ?? "daemon/packs/use-lite-en");
if (values.from) {
  const from = resolve(values.from);
  const files = headFiles(from);
  // A head trained without an adapter must not ship beside a stale one.
  if (!files.includes(BACKBONE_ADAPTER_FILE)) await rm(join(dir, BACKBONE_ADAPTER_FILE), { force: true });
  for (const f of files) await copyFile(join(from, f), join(dir, f));
}
const sae = JSON.parse(await readFile(join(dir, "sae.json"), "utf8")) as { layer: number; width: number; training: Record<string, unknown> };
let extra: Record<string, string>;
if (values.head) {
  // The retrieval stage: its config and the mined pairs' manifest. The reconstruction
  // stage's records stay beside them (train-config.json, corpus.manifest.json).
  const configs = values.head.split(",");
  const headConfigs = configs.map((_, i) => `train-head-stage${i + 1}-config.json`);
  const manifests: string[] = [];
  const manifestNames: string[] = [];
  for (const [i, c] of configs.entries()) {
    await copyFile(resolve(c), join(dir, headConfigs[i]!));
    // The pairs each stage read: its config's pairsManifest, else the one beside its states.
    const cfg = JSON.parse(await readFile(resolve(c), "utf8")) as { states: string; pairsManifest?: string };
    const manifest = resolve(cfg.pairsManifest ?? join(cfg.states, "..", "pairs.manifest.json"));
    if (manifests.includes(manifest)) continue;
    const name = manifests.length === 0 ? "pairs.manifest.json" : `pairs-stage${i + 1}.manifest.json`;
    await copyFile(manifest, join(dir, name));
    manifests.push(manifest);
    manifestNames.push(name);
  }
  extra = {
    trainingConfig: "train-config.json",
    corpusManifest: "corpus.manifest.json",
    headConfigs: headConfigs.join(", "),
    pairsManifest: manifestNames.join(", "),
    reproduce: "npm ci && npm run train:head (see train/README.md for the Debian packages)",
  };
} else {
  const config = await loadConfig();
  const corpusManifest = resolve(config.corpus.out).replace(/\.jsonl$/, ".manifest.json");
  await copyFile(corpusManifest, join(dir, "corpus.manifest.json"));
  await copyFile(config.path, join(dir, "train-config.json"));
  extra = { trainingConfig: "train-config.json", corpusManifest: "corpus.manifest.json", reproduce: "npm ci && npm run train:sae" };
}
const files = headFiles(dir);
const shipped = {
  name: values.head ? "use-lite-en sparse head (SAE encoder trained for retrieval)" : "use-lite-en SAE head",
  fingerprint: await fingerprintFiles(dir, files),
  files,
  layer: sae.layer,
  width: sae.width,
  ...extra,
};
await writeFile(join(dir, SHIPPED_MANIFEST), JSON.stringify(shipped, null, 2) + "\n");
process.stderr.write(`sealed ${dir}: ${shipped.fingerprint}\n`);
