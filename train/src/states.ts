// Runs the default pack's encoder over the training corpus and stores the token states of the
// configured layers as float32 shards, with each state's token id and origin (passage, token
// position) for latent labels. Windows do not overlap here, so every token is one state.
//
//   node train/dist/states.js [--config train/config/sae.json]
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ensureDefaultPack } from "@loupe/daemon/model/default-pack";
import { Encoder } from "@loupe/daemon/model/encoder";
import { windows } from "@loupe/daemon/model/tokenizer";
import { cacheDir } from "@loupe/protocol";
import { loadConfig } from "./common.js";
import { StatesWriter, type StatesMeta } from "./states-format.js";


async function main(): Promise<void> {
  const config = await loadConfig();
  const outDir = resolve(config.states.out);
  await mkdir(outDir, { recursive: true });
  const pack = await ensureDefaultPack({ cacheDir: cacheDir(), log: (l) => process.stderr.write(`${l}\n`) });
  const encoder = await Encoder.open(pack, { provider: "auto", batchSize: 32, log: (l) => process.stderr.write(`${l}\n`) });
  const corpusPath = resolve(config.corpus.out);
  const passages = (await readFile(corpusPath, "utf8")).split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  const corpusManifest = JSON.parse(await readFile(corpusPath.replace(/\.jsonl$/, ".manifest.json"), "utf8")) as { corpusSha256: string };
  const h = encoder.hiddenSize;
  const layers = config.states.layers;
  const kinds = layers.map((l) => (l === 0 ? "layer0" : "layer1") as "layer0" | "layer1");

  const writer = new StatesWriter(outDir, layers, h);
  const started = Date.now();
  const GROUP = 256;
  for (let p = 0; p < passages.length; p += GROUP) {
    const group: number[][] = [];
    const origin: Array<[number, number]> = [];
    for (let q = p; q < Math.min(p + GROUP, passages.length); q++) {
      let offset = 0;
      for (const w of windows(encoder.tokenize(encoder.encoderText(passages[q]!)), pack.manifest.maxTokens, 0)) {
        group.push(w);
        origin.push([q, offset]);
        offset += w.length;
      }
    }
    const outputs = await encoder.runWindows(group, kinds);
    for (let w = 0; w < group.length; w++) {
      await writer.addWindow(kinds.map((k) => outputs[w]![k]!), group[w]!, origin[w]![0], origin[w]![1]);
    }
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`\rstates: ${Math.min(p + GROUP, passages.length)}/${passages.length} passages, ${writer.tokens} tokens, ${Math.round(writer.tokens / secs)} tok/s`);
  }
  await writer.close();
  const meta: StatesMeta = { tokens: writer.tokens, hidden: h, layers, shards: writer.shards, packFingerprint: pack.manifest.fingerprint, corpusSha256: corpusManifest.corpusSha256 };
  await writeFile(join(outDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
  process.stderr.write(`\nstates: ${writer.tokens} tokens in ${writer.shards} shards (${Math.round((Date.now() - started) / 1000)} s) → ${outDir}\n`);
  await encoder.close();
}

await main();
